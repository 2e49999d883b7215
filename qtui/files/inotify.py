"""File events from the kernel (Linux inotify), read on the trio loop: a watch costs nothing while
nothing changes, no thread and no timer.

    with Inotify() as events:
        folder_watch = events.watch(Path("~/.config/qtui").expanduser())
        for event in await events.read():   # waits for the next events
            ...

:func:`available` says whether this system has inotify; callers look at their files on a timer
where it has not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import sys
from pathlib import Path

import attrs
import trio

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_ISDIR = 0x40000000

#: Whatever changes what a folder holds: files written, replaced, created, removed, renamed,
#: their modes changed, and the folder itself removed or moved away.
FOLDER_CHANGES = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
                  | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name
#: Bytes read at once: many events (each is 16 bytes and its name, NAME_MAX at most).
_READ_BYTES = 64 * 1024


@attrs.frozen
class FileEvent:
    """One change in a watched folder: `name` is the entry inside it ("" for the folder itself)."""

    watch: int
    mask: int
    name: str

    @property
    def overflowed(self) -> bool:
        """The kernel's queue overflowed: events were lost, anything may have changed."""
        return bool(self.mask & IN_Q_OVERFLOW)

    @property
    def is_dir(self) -> bool:
        return bool(self.mask & IN_ISDIR)

    @property
    def watch_ended(self) -> bool:
        """The watch is gone (its folder was removed or unmounted, or it was removed)."""
        return bool(self.mask & IN_IGNORED)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch  # noqa: B018 - present?
    except (OSError, AttributeError):
        return None
    libc.inotify_add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
    libc.inotify_rm_watch.argtypes = (ctypes.c_int, ctypes.c_int)
    return libc


_LIBC = _libc()


def available() -> bool:
    """Whether this system gives file events through inotify."""
    return _LIBC is not None


def open_or_none() -> Inotify | None:
    """A new :class:`Inotify`, or None where the system has none or none is left (its limit of
    instances per user reached): the caller looks at its files on a timer instead."""
    if not available():
        return None
    try:
        return Inotify()
    except OSError:
        return None


def parse_events(data: bytes) -> list[FileEvent]:
    """The events in `data` as read from an inotify descriptor (a cut-off last event is left out)."""
    events = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        watch, mask, _cookie, length = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if start + length > len(data):
            break
        name = data[start:start + length].split(b"\0", 1)[0]
        events.append(FileEvent(watch, mask, os.fsdecode(name)))
        offset = start + length
    return events


class Inotify:
    """One inotify instance: watches on folders, and their events read on the trio loop."""

    def __init__(self) -> None:
        if _LIBC is None:
            raise OSError(errno.ENOSYS, "file events (inotify) are not available on this system")
        fd = _LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"inotify: {os.strerror(code)}")
        self._fd: int | None = fd

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def watch(self, folder: Path, mask: int = FOLDER_CHANGES) -> int:
        """Watch `folder` for the changes in `mask`; the watch's number (the same folder, the same number)."""
        assert _LIBC is not None and self._fd is not None
        watch = _LIBC.inotify_add_watch(self._fd, os.fsencode(folder), mask)
        if watch < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"cannot watch {folder}: {os.strerror(code)}", str(folder))
        return watch

    def unwatch(self, watch: int) -> None:
        """Stop watch number `watch` (one already gone is no error)."""
        assert _LIBC is not None and self._fd is not None
        _LIBC.inotify_rm_watch(self._fd, watch)

    async def read(self) -> list[FileEvent]:
        """The events that have come, waiting for at least one."""
        assert self._fd is not None
        while True:
            try:
                data = os.read(self._fd, _READ_BYTES)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self._fd)
                continue
            await trio.lowlevel.checkpoint()
            return parse_events(data)

    def close(self) -> None:
        """Stop every watch; a task waiting in :meth:`read` gets trio.ClosedResourceError."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                trio.lowlevel.notify_closing(fd)
            except RuntimeError:
                pass  # not inside trio: nobody can be waiting
            os.close(fd)
