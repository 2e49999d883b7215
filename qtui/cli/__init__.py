"""The ``qtui`` command line: the console, the queue commands for scripts, and ``qtui plugin``.

Owns: argument parsing and dispatch (:mod:`.main`), the plugin administration commands
(:mod:`.plugins`) and ``qtui config check`` with what the commands take from config.toml
(:mod:`.config`). May import anything in qtui; nothing imports it.
"""
