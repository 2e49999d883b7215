"""Choosing and opening a queue backend from a path or URL."""

from __future__ import annotations

import importlib
from pathlib import Path

from qtui.backends.base import Backend
from qtui.clock import WallClock
from qtui.model import InvalidInput

#: URL scheme -> "module:factory". A factory takes (target, *, clock, read_only, create)
#: and returns a Backend; `create` only matters to backends that live in a file. Modules load lazily so an unused backend costs nothing.
SCHEMES: dict[str, str] = {
    "sqlite": "qtui.backends.sqlite:open_sqlite",
    "redis": "qtui.backends.gowork:open_gowork",
    "rediss": "qtui.backends.gowork:open_gowork",
    "redis+unix": "qtui.backends.gowork:open_gowork",
    "unix": "qtui.backends.gowork:open_gowork",
    "redis+sentinel": "qtui.backends.gowork:open_gowork",
    "rediss+sentinel": "qtui.backends.gowork:open_gowork",
    "rq+redis": "qtui.backends.rq:open_rq",
    "rq+rediss": "qtui.backends.rq:open_rq",
    "rq+unix": "qtui.backends.rq:open_rq",
    "rq+redis+sentinel": "qtui.backends.rq:open_rq",
    "rq+rediss+sentinel": "qtui.backends.rq:open_rq",
}


def open_backend(target: str | Path, *, clock: WallClock, read_only: bool = False, create: bool = False) -> Backend:
    """Open the backend named by a file path or URL (`sqlite:///abs/path.db`, ...).

    `clock` dates snapshots and what the backend writes (requeues, leases).
    A plain path (no `scheme://`) is a SQLite database file. `create` allows a
    missing database file to be made; otherwise a missing one is BackendUnavailable.
    """
    text = str(target)
    scheme, sep, _rest = text.partition("://")
    if not sep:
        scheme = "sqlite"
    entry = SCHEMES.get(scheme.lower())
    if entry is None:
        known = ", ".join(f"{s}://" for s in sorted(SCHEMES))
        raise InvalidInput(f"unsupported backend URL {text!r} (supported: {known} or a file path)")
    module_name, factory_name = entry.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    return factory(text, clock=clock, read_only=read_only, create=create)


__all__ = ["Backend", "SCHEMES", "open_backend"]
