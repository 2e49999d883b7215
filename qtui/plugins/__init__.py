"""The Lua plugin system: bundles on disk, trust decisions, and the runtime that runs plugins.

Owns: four layers, each a subpackage, and data flows one way between them:

- :mod:`.bundles`: what a plugin is on disk (manifest, files and hash, discovery, catalog);
- :mod:`.trust`: what a plugin may do (decisions and scopes, site policy, audit, enabled, review);
- :mod:`.runtime`: running plugins (sandbox, API, events, host);
- :mod:`.service`: the one module the console imports; it runs the enabled plugins;
- :mod:`.lockfile`, beside it: the fleet lockfile (``qtui plugin lock`` and ``apply``).

Beside them, :mod:`.lifecycle` is what enabling, configuring and removing a plugin change on
disk, shared by the service and the command line.

May import: the backend-neutral core (:mod:`qtui.model`, :mod:`qtui.events`, :mod:`qtui.bus`,
:mod:`qtui.backends.base`), :mod:`qtui.files` and :mod:`qtui.paths`. Never the console, the
command line or the author's kit (:mod:`qtui.authoring`), which build on it.
"""
