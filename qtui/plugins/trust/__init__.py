"""Deciding what plugins may do: the operator's decisions, the site policy, the audit log.

Owns: ``permissions.toml`` and the verdict on each capability (:mod:`.permissions`), the site
administrator's ``policy.toml`` (:mod:`.policy`), the bounds a grant or the policy puts on a
capability (:mod:`.scope`), the audit log of what plugins asked for and what happened
(:mod:`.audit`), which plugins the operator enabled (:mod:`.enabled`), watching the decisions
while a console runs (:mod:`.live`) and the copy of granted code changes are reviewed against
(:mod:`.review`).

May import: :mod:`qtui.plugins.bundles`, :mod:`qtui.files`, :mod:`qtui.paths`. Never the
runtime or the console: data flows bundles → trust → runtime → console.
"""
