"""Files qtui reads, writes and watches for the operator: atomic replacement, locks, TOML with
located errors, and file events.

Owns: :mod:`~qtui.files.atomic` (crash-safe replace, folder fsync, an inter-process lock),
:mod:`~qtui.files.tomlfile` (TOML read with problems naming file, line and field) and
:mod:`~qtui.files.inotify` (the kernel's file events on the trio loop).
May import: the standard library and third-party packages only; nothing else of qtui.
"""
