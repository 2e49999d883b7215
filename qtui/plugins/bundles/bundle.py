"""A plugin's files on disk, read once and hashed: what the operator's decisions are about.

The **bundle hash** is sha256 over every file of the plugin folder, sorted by relative POSIX path,
each contributing its path and the sha256 of its content (length-prefixed, so no two bundles
collide by moving bytes between names). Names :func:`~qtui.plugins.bundles.manifest.is_ignored_name`
leaves out (hidden and editor temporary files) are skipped at any depth. Symbolic links and
special files inside a bundle are refused. :func:`read_bundle` reads the files and hashes the
very bytes it returns, so a loader that runs only those runs exactly the code decided on.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import attrs

from qtui.files.tomlfile import FileProblems, Problem
from qtui.plugins.bundles.archive import MAX_FILES as MAX_ARCHIVE_ENTRIES
from qtui.plugins.bundles.manifest import NOT_BUNDLED, is_ignored_name

#: The most a plugin's files may add up to.
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
#: The most files and folders a plugin folder may hold (as many as a plugin archive), and how
#: deep its folders may nest: a folder past either is refused before reading it takes long.
MAX_BUNDLE_ENTRIES = MAX_ARCHIVE_ENTRIES
MAX_BUNDLE_DEPTH = 16


class BundleError(FileProblems):
    """A plugin folder cannot be hashed (unreadable, symlinks, special files, too big)."""


def _problem(path: Path, message: str) -> BundleError:
    return BundleError([Problem(path, None, "", message)])


def bundle_folders(folder: Path, *, nested: bool = False) -> list[tuple[Path, str, list[os.DirEntry]]]:
    """Every folder of the bundle in `folder` (a plugin's folder, or one `nested` in it) that is
    not left out, as (path, relative prefix, its entries not left out); BundleError past
    MAX_BUNDLE_ENTRIES or MAX_BUNDLE_DEPTH, or for a folder that cannot be read."""
    found = []
    pending = [(folder, "", 0)]
    entries_seen = 0
    while pending:
        directory, prefix, depth = pending.pop()
        if depth > MAX_BUNDLE_DEPTH:
            raise _problem(directory, f"folders nest deeper than {MAX_BUNDLE_DEPTH} inside a plugin")
        left_out = NOT_BUNDLED if depth == 0 and not nested else frozenset()
        try:
            with os.scandir(directory) as listing:
                entries = []
                for entry in listing:
                    entries_seen += 1
                    if entries_seen > MAX_BUNDLE_ENTRIES:
                        raise _problem(folder, f"the plugin holds more than {MAX_BUNDLE_ENTRIES} files and folders")
                    if not (is_ignored_name(entry.name) or entry.name in left_out):
                        entries.append(entry)
            subfolders = [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
        except OSError as e:
            raise _problem(directory, f"cannot read folder: {e.strerror or e}") from None
        found.append((directory, prefix, entries))
        pending.extend((Path(entry.path), prefix + entry.name + "/", depth + 1) for entry in subfolders)
    return found


def bundle_files(folder: Path) -> tuple[str, ...]:
    """The relative POSIX paths of the files that make up the bundle in `folder`, sorted."""
    found: list[str] = []
    for _directory, prefix, entries in bundle_folders(folder):
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as e:
                raise _problem(Path(entry.path), f"cannot read: {e.strerror or e}") from None
            if stat.S_ISLNK(mode):
                raise _problem(Path(entry.path), "symbolic links are not allowed inside a plugin")
            if stat.S_ISREG(mode):
                found.append(prefix + entry.name)
            elif not stat.S_ISDIR(mode):
                raise _problem(Path(entry.path), "only regular files and folders may be in a plugin")
    return tuple(sorted(found))


@attrs.frozen
class Bundle:
    """A plugin's files read into memory once, with their hash.

    Load Lua sources from `files`, never from disk again: the code that runs is then exactly
    the code whose hash the operator's decisions name.
    """

    folder: Path
    files: Mapping[str, bytes]  # relative POSIX path -> content, for every bundle file
    hash: str  # "sha256:<hex>"


def read_bundle(folder: Path, *, max_bytes: int = MAX_BUNDLE_BYTES) -> Bundle:
    """Read every bundle file of `folder` and hash them; BundleError if unreadable or too big."""
    total = hashlib.sha256(b"qtui-plugin-bundle-v1\0")
    files: dict[str, bytes] = {}
    size = 0
    for relative in bundle_files(folder):
        try:
            with open(folder / relative, "rb") as f:
                content = f.read(max_bytes - size + 1)
        except OSError as e:
            problem = Problem(folder / relative, None, "", f"cannot read: {e.strerror or e}")
            raise BundleError([problem]) from None
        size += len(content)
        if size > max_bytes:
            problem = Problem(folder, None, "", f"the plugin's files exceed {max_bytes} bytes")
            raise BundleError([problem])
        files[relative] = content
        name = relative.encode("utf-8", "surrogateescape")
        total.update(len(name).to_bytes(4, "big") + name + hashlib.sha256(content).digest())
    return Bundle(folder, files, "sha256:" + total.hexdigest())


def bundle_hash(folder: Path) -> str:
    """``sha256:<hex>`` over the bundle's files, their paths and contents (see module docs)."""
    return read_bundle(folder).hash
