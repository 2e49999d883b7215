"""Finding installed plugins: the user's, the system's and those bundled with qtui.

Plugin folders are looked for in, by precedence:

1. ``$XDG_CONFIG_HOME/qtui/plugins`` (the user's),
2. ``<first of $XDG_CONFIG_DIRS>/qtui/plugins`` (the system's, default ``/etc/xdg``),
3. the plugins bundled with qtui (:func:`bundled_dir`): ``qtui/lua_plugins`` inside the installed
   package (package data), else the ``lua_plugins`` folder at the top of a source checkout.

Each immediate subfolder holding a ``manifest.toml`` is a plugin; its name comes from the
manifest, not the folder. A plugin shadows those of the same name further down the list; the
shadowed ones are reported, not silently dropped. Two folders declaring the same name in one
place are a conflict: neither is loaded and, so that fixing them is not silently skipped, the
name stays taken there. Invalid plugins are reported with their problems and never stop the
others from being found. Hidden folders and files are ignored.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import attrs

import qtui
from qtui import paths
from qtui.files.tomlfile import Problem
from qtui.plugins.bundles.manifest import MANIFEST_FILE, Manifest, ManifestError, is_ignored_name, load_manifest

PLUGINS_FOLDER = "plugins"
BUNDLED_FOLDER = "lua_plugins"


class Source(enum.StrEnum):
    """Where a plugin was found, in order of precedence."""

    USER = "user"
    SYSTEM = "system"
    BUNDLED = "bundled"


@attrs.frozen
class Plugin:
    """A plugin with a valid manifest."""

    manifest: Manifest
    folder: Path
    source: Source

    @property
    def name(self) -> str:
        return self.manifest.name


@attrs.frozen
class Shadowed:
    """A plugin hidden by one of the same name found earlier in precedence."""

    plugin: Plugin
    by: Path  # the folder that takes its place

    def __str__(self) -> str:
        return (
            f"{self.plugin.folder}: plugin {self.plugin.name} ({self.plugin.source}) is shadowed "
            f"by {self.by}"
        )


@attrs.frozen
class Broken:
    """A folder that should be a plugin but cannot be used."""

    folder: Path
    source: Source
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@attrs.frozen
class Conflict:
    """Several folders in one plugin directory declare the same plugin name."""

    name: str
    source: Source
    folders: tuple[Path, ...]

    def __str__(self) -> str:
        listed = " and ".join(str(f) for f in self.folders)
        return f"plugin name {self.name!r} is declared by more than one folder: {listed}"


@attrs.frozen
class Discovery:
    """Everything found: usable plugins (by name) and what is wrong with the rest."""

    plugins: tuple[Plugin, ...] = ()
    shadowed: tuple[Shadowed, ...] = ()
    broken: tuple[Broken, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    def get(self, name: str) -> Plugin | None:
        """The usable plugin called `name`, if any."""
        return next((p for p in self.plugins if p.name == name), None)

    def messages(self) -> list[str]:
        """One line per problem or shadowed plugin, for showing to the operator."""
        lines = [str(c) for c in self.conflicts]
        lines += [str(p) for b in self.broken for p in b.problems]
        lines += [str(s) for s in self.shadowed]
        return lines


def bundled_dir() -> Path | None:
    """The folder of plugins shipped with qtui: the checkout's lua_plugins/, or the installed copy.

    A wheel installs them as data files in <prefix>/share/qtui/lua_plugins.
    """
    package = Path(qtui.__file__).parent
    checkout = package.parent / BUNDLED_FOLDER
    if checkout.is_dir() and (package.parent / "pyproject.toml").is_file():
        return checkout
    installed = Path(sys.prefix) / "share" / "qtui" / BUNDLED_FOLDER
    if installed.is_dir():
        return installed
    return None


def plugin_dirs() -> tuple[tuple[Source, Path], ...]:
    """The plugin directories to search, by precedence (the same folder is listed once)."""
    candidates = [
        (Source.USER, paths.config_dir() / PLUGINS_FOLDER),
        (Source.SYSTEM, paths.system_config_dir() / PLUGINS_FOLDER),
    ]
    bundled = bundled_dir()
    if bundled is not None:
        candidates.append((Source.BUNDLED, bundled))
    seen: set[Path] = set()
    unique = []
    for source, folder in candidates:
        real = folder.resolve()
        if real not in seen:
            seen.add(real)
            unique.append((source, folder))
    return tuple(unique)


def discover(dirs: Iterable[tuple[Source, Path]] | None = None) -> Discovery:
    """Find the plugins in `dirs` (default :func:`plugin_dirs`), earlier ones taking precedence."""
    winners: dict[str, Path] = {}  # plugin name -> the folder that holds the name
    plugins: list[Plugin] = []
    shadowed: list[Shadowed] = []
    broken: list[Broken] = []
    conflicts: list[Conflict] = []
    for source, directory in dirs if dirs is not None else plugin_dirs():
        found, bad = _scan(directory, source)
        broken += bad
        by_name: dict[str, list[Plugin]] = {}
        for plugin in found:
            by_name.setdefault(plugin.name, []).append(plugin)
        for name, same in by_name.items():
            if name in winners:
                shadowed += [Shadowed(p, winners[name]) for p in same]
                continue
            winners[name] = same[0].folder
            if len(same) > 1:
                conflicts.append(Conflict(name, source, tuple(p.folder for p in same)))
            else:
                plugins.append(same[0])
    return Discovery(
        plugins=tuple(sorted(plugins, key=lambda p: p.name)),
        shadowed=tuple(shadowed),
        broken=tuple(broken),
        conflicts=tuple(conflicts),
    )


def _scan(directory: Path, source: Source) -> tuple[list[Plugin], list[Broken]]:
    """The plugins in one directory, in folder name order, and the folders that failed."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except FileNotFoundError:
        return [], []
    except OSError as e:
        problem = Problem(directory, None, "", f"cannot read plugin folder: {e.strerror or e}")
        return [], [Broken(directory, source, (problem,))]
    plugins: list[Plugin] = []
    broken: list[Broken] = []
    for entry in entries:
        if is_ignored_name(entry.name) or not entry.is_dir():
            continue
        folder = Path(entry.path)
        if not (folder / MANIFEST_FILE).exists():
            problem = Problem(folder, None, "", f"no {MANIFEST_FILE}: not a plugin folder")
            broken.append(Broken(folder, source, (problem,)))
            continue
        try:
            plugins.append(Plugin(load_manifest(folder), folder, source))
        except ManifestError as e:
            broken.append(Broken(folder, source, e.problems))
    return plugins, broken
