"""The plugin author's kit: spec runner, scaffold, type definitions and the plugin documentation.

Owns: running busted-style Lua specs against a real host (:mod:`.spectest` and its private
``_spec_*`` helpers), ``qtui plugin new`` (:mod:`.scaffold`), the lua-language-server type
definitions (:mod:`.typedefs`, ``lua/qtui.d.lua``) and the plugin documentation rendered as
man pages and console help: its prose read from ``man/plugin-docs`` (:mod:`.prose`), filled
from the declarations (:mod:`.docs`) and rendered (:mod:`.docmodel`).

May import: anything under :mod:`qtui.plugins` and the core. Nothing under :mod:`qtui.plugins`
imports this package.
"""
