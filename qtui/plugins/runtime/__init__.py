"""Running plugins: one restricted Lua runtime per plugin, the host API, events and the host.

Owns: the sandbox with its limits and kill switch (:mod:`.sandbox`, ``_sandbox_prelude.lua``),
plain values between Python and Lua (:mod:`.values`), the API declaration (:mod:`.api`), qtui's
Lua library that plugins ``require`` (``stdlib/*.lua``, declared in :data:`.api.LIBRARY`), one
loaded plugin with the API bound to it (:mod:`.instance`), plugin events (:mod:`.events`),
settings values and storage (:mod:`.settings`, :mod:`.storage`), the admin actions plugins
request, resolved to the jobs they touch (:mod:`.actions`), the trio-side host that starts,
feeds, gates and stops plugins (:mod:`.host`), the states of the plugins each running console
publishes for the command line (:mod:`.running`), and recordings of what plugins see
(:mod:`.recording`).

May import: :mod:`qtui.plugins.trust`, :mod:`qtui.plugins.bundles`, :mod:`qtui.files` and the
backend-neutral core (:mod:`qtui.model`, :mod:`qtui.events`, :mod:`qtui.bus`,
:mod:`qtui.backends.base` with :mod:`qtui.backends.payload_fields`). Never the console: data flows bundles → trust → runtime → console.
"""
