"""The ``qtui`` command line: the console, the queue commands for scripts, and ``qtui plugin``.

Owns: argument parsing and dispatch (:mod:`.main`) and the plugin administration commands
(:mod:`.plugins`). May import anything in qtui; nothing imports it.
"""
