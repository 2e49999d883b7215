"""Deciding what plugins may do: the operator's decisions, the site policy, the audit log.

Owns: ``permissions.toml`` and the verdict on each capability (:mod:`.permissions`), the site
administrator's ``policy.toml`` (:mod:`.policy`), the audit log of what plugins tried and what
happened (:mod:`.audit`) and which plugins the operator enabled (:mod:`.enabled`).

May import: :mod:`qtui.plugins.bundles`, :mod:`qtui.files`, :mod:`qtui.paths`. Never the
runtime or the console: data flows bundles → trust → runtime → console.
"""
