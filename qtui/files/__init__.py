"""Files qtui reads and writes for the operator: atomic replacement, locks, and TOML with located errors.

Owns: :mod:`~qtui.files.atomic` (crash-safe replace, folder fsync, an inter-process lock) and
:mod:`~qtui.files.tomlfile` (TOML read with problems naming file, line and field).
May import: the standard library and third-party packages only; nothing else of qtui.
"""
