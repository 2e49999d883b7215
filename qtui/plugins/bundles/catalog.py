"""The plugin catalog, and installing, removing and packing plugins.

**Catalog sources**, searched in this order:

1. the index files listed in ``catalogs.toml`` in the user's config dir
   (``$XDG_CONFIG_HOME/qtui/catalogs.toml``),
2. those listed in ``catalogs.toml`` in the system config dir (``/etc/xdg/qtui/catalogs.toml``),
3. the plugins bundled with qtui (:func:`~qtui.plugins.bundles.discovery.bundled_dir`), whose entries
   are made from the folders themselves: name, version, description and permissions from each
   manifest, the folder as location and its :func:`~qtui.plugins.bundles.bundle.bundle_hash`.

``catalogs.toml``::

    catalogs = ["/srv/qtui/index.toml", "team/index.toml", "~/plugins/index.toml"]

Relative paths are relative to the folder of ``catalogs.toml``; ``~`` is the home folder.

An **index file** lists plugin archives, as :func:`pack` makes them and prints them::

    [[plugin]]
    name = "tenant-sla"
    version = "1.2.0"
    description = "Time to completion per tenant against the SLA"
    permissions = ["stats.read", "timers"]
    archive = "tenant-sla-1.2.0.tar.gz"   # relative to the index, an absolute path, or an http(s) URL
    sha256 = "9f2c..."                    # of the archive file, 64 hex digits

Every field is required. An index may list several versions of a plugin; installing by name
takes the newest release of all sources (a prerelease only if there is no release), the earlier
source winning a tie, and ``NAME@VERSION`` takes that version. An unusable catalogs.toml or
index file is reported without hiding the other sources. The checksum binds the archive to the
index, so an index deserves as much trust as the place it is read from.

**Installing** (:func:`install`) takes a plugin folder, an archive, or a catalog entry, whose
archive is downloaded (size cap, overall timeout) and checked against its sha256, and whose
name, version and permissions must be those of the manifest inside. Archives are unpacked with
the checks of :mod:`qtui.plugins.bundles.archive`; the manifest is validated and every Lua file
compiled, running nothing. The files go to a hidden staging folder beside the target,
``$XDG_CONFIG_HOME/qtui/plugins/NAME``, and are renamed into place: the old install is renamed
aside first and deleted only once the new one is in place, and put back if that fails. An
existing install is replaced without asking by a *newer* version; the same version with other
code, an older version, or a folder that is not an install of the plugin is replaced only with
``force``. Reinstalling the very same version and code changes nothing. Installing grants
nothing: the plugin asks for its permissions when the console first starts it. Where the plugin
came from is kept beside its files, in the hidden ``.qtui-origin.toml`` (hidden files are not
part of a bundle), for :func:`installed_from`.

**Removing** (:func:`remove`) renames the user's plugin folder aside, then deletes it; system
and bundled plugins are not the user's to remove. Installs and removals hold a lock in the user
plugin dir and first finish what a crashed one left: staging and removed folders are deleted,
and an old install set aside but not replaced is put back.

**Packing** (:func:`pack`) validates a plugin folder like installing does and writes its bundle
files as a reproducible ``NAME-VERSION.tar.gz`` (:func:`qtui.plugins.bundles.archive.pack`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import tomli_w

import qtui
from qtui import paths
from qtui.files.atomic import locked, replace_file, sync_folder
from qtui.files.tomlfile import (
    FieldPath,
    FileProblems,
    Problem,
    Reporter,
    read_toml,
    show,
    type_name,
)
from qtui.plugins.bundles import archive as _archive
from qtui.plugins.bundles import discovery
from qtui.plugins.bundles.bundle import MAX_BUNDLE_BYTES, Bundle, BundleError, read_bundle
from qtui.plugins.bundles.capabilities import Capability, known_names
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import PLUGIN_NAME, Manifest, Version

CATALOGS_FILE = "catalogs.toml"
#: The largest index or catalogs.toml file read.
MAX_INDEX_BYTES = 4 * 1024 * 1024
#: The largest archive downloaded or read (compressed).
MAX_ARCHIVE_BYTES = MAX_BUNDLE_BYTES
#: How long a download may take in all, in seconds.
DOWNLOAD_TIMEOUT = 60.0
#: What the bundled plugins are listed as, where an index would name its file.
BUNDLED = "bundled"

_PLUGIN_SPEC = re.compile(rf"({PLUGIN_NAME.pattern})(?:@([^/]+))?", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_URL_SCHEMES = ("http", "https")
_LOCK = ".qtui-install"
_STAGING_PREFIX = ".qtui-staging-"
_REPLACED_SUFFIX = ".replaced"
_REMOVING_SUFFIX = ".removing"
_CHUNK = 64 * 1024
#: The file in an install that says where it came from (hidden: not part of the bundle).
ORIGIN_FILE = ".qtui-origin.toml"
_MAX_ORIGIN_BYTES = 16 * 1024


class CatalogError(FileProblems):
    """An index file or catalogs.toml is unreadable or invalid."""


class PackageError(Exception):
    """A plugin was not packed, installed or removed; nothing changed. `problems` may say more."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class NotAvailable(PackageError):
    """No catalog lists the plugin, or it is not installed in the user's plugin dir."""


class DownloadError(PackageError):
    """An archive could not be fetched."""


class ReplaceRefused(PackageError):
    """Installing would replace an install that only `force` may replace."""


# -- catalog ------------------------------------------------------------------------------


@attrs.frozen
class ArchiveLocation:
    """A catalog entry's archive: where to fetch it and the sha256 (hex) it must have."""

    location: str  # an http(s) URL or an absolute path
    sha256: str


@attrs.frozen
class FolderLocation:
    """A bundled plugin's folder and the bundle hash its files must have."""

    folder: Path
    code_hash: str


@attrs.frozen
class Entry:
    """One installable plugin version that a catalog lists."""

    name: str
    version: Version
    description: str
    permissions: tuple[Capability, ...]
    origin: ArchiveLocation | FolderLocation
    catalog: str  # the index file listing it, or BUNDLED

    @property
    def location(self) -> str:
        """Where the plugin's files are fetched from."""
        origin = self.origin
        return origin.location if isinstance(origin, ArchiveLocation) else str(origin.folder)


@attrs.frozen
class Catalog:
    """Every entry of the catalog sources, in source order, and what was wrong with the sources."""

    entries: tuple[Entry, ...] = ()
    problems: tuple[Problem, ...] = ()  # unreadable index files, broken bundled plugins

    def newest(self, name: str) -> Entry | None:
        """The newest release of `name` listed, or its newest prerelease if it has no release.

        On a tie the entry from the earlier source wins.
        """
        best: Entry | None = None
        for entry in self.entries:
            if entry.name == name and (best is None or _rank(entry) > _rank(best)):
                best = entry
        return best

    def version(self, name: str, version: Version) -> Entry | None:
        """The entry for exactly `name` `version` (build metadata included), from the earliest source."""
        text = str(version)
        return next((e for e in self.entries if e.name == name and str(e.version) == text), None)


    def search(self, text: str) -> tuple[Entry, ...]:
        """The entries whose name, description or permissions contain `text` (any case)."""
        return tuple(e for e in self.entries if matches(text, e.name, e.description, e.permissions))


def _rank(entry: Entry) -> tuple[bool, Version]:
    return (not entry.version.prerelease, entry.version)


def matches(text: str, name: str, description: str, permissions: Iterable[Capability]) -> bool:
    """Does `text` occur (ignoring case) in a plugin's name, description or a permission it asks for?

    The search of `qtui plugin catalog --search` and of the console's plugin screen.
    """
    needle = text.strip().casefold()
    return any(needle in field.casefold() for field in (name, description, *permissions))


def catalogs_paths() -> tuple[Path, ...]:
    """The catalogs.toml files read, the user's first."""
    return (paths.config_dir() / CATALOGS_FILE, paths.system_config_dir() / CATALOGS_FILE)


def configured_indexes(config: Path) -> tuple[Path, ...]:
    """The index files `config` (a catalogs.toml) lists; none if it does not exist.

    Raises CatalogError naming the line of anything invalid.
    """
    if not config.exists():
        return ()
    try:
        data, text = read_toml(config, max_bytes=MAX_INDEX_BYTES)
    except FileProblems as e:
        raise CatalogError(e.problems) from None
    reader = Reporter(config, text)
    doc = reader.table(data, (), ("catalogs",))
    listed = doc.get("catalogs", [])
    found: list[Path] = []
    if not isinstance(listed, list):
        reader.error(("catalogs",), f"must be an array of index file paths, not {type_name(listed)}")
        listed = []
    for i, item in enumerate(listed):
        if not isinstance(item, str) or not item:
            reader.error(("catalogs", i), "must be the path of an index file")
        elif urlsplit(item).scheme in _URL_SCHEMES:
            reader.error(("catalogs", i), "must be a file path: index files are read from disk, "
                                          "only archives are downloaded")
        else:
            found.append(Path(os.path.abspath(config.parent / Path(item).expanduser())))
    if reader.problems:
        raise CatalogError(reader.sorted_problems())
    return tuple(found)


def load_catalog(indexes: Sequence[Path] | None = None) -> Catalog:
    """The catalog of `indexes`, or by default of the configured indexes and the bundled plugins.

    With explicit `indexes` any unusable one raises CatalogError. By default an unusable
    catalogs.toml, index file or bundled plugin becomes one of the catalog's `problems`
    instead, so the other sources stay usable.
    """
    if indexes is not None:
        return Catalog(tuple(e for index in indexes for e in read_index(index)))
    entries: list[Entry] = []
    problems: list[Problem] = []
    configured: list[Path] = []
    for config in catalogs_paths():
        try:
            configured += configured_indexes(config)
        except CatalogError as e:
            problems += e.problems
    for index in dict.fromkeys(configured):
        try:
            entries += read_index(index)
        except CatalogError as e:
            problems += e.problems
    bundled, broken = bundled_entries()
    return Catalog(tuple(entries + list(bundled)), tuple(problems + list(broken)))


def bundled_entries() -> tuple[tuple[Entry, ...], tuple[Problem, ...]]:
    """Catalog entries for the plugins bundled with qtui, and the problems of broken ones."""
    folder = discovery.bundled_dir()
    if folder is None:
        return (), ()
    found = discovery.discover([(Source.BUNDLED, folder)])
    entries: list[Entry] = []
    problems = [p for broken in found.broken for p in broken.problems]
    for plugin in found.plugins:
        try:
            code_hash = read_bundle(plugin.folder).hash
        except BundleError as e:
            problems += e.problems
            continue
        manifest = plugin.manifest
        entries.append(Entry(
            manifest.name, manifest.version, manifest.description, manifest.permissions,
            FolderLocation(plugin.folder, code_hash), BUNDLED,
        ))
    return tuple(entries), tuple(problems)


def read_index(path: Path) -> tuple[Entry, ...]:
    """The entries of the index file `path`; CatalogError naming the line of each problem."""
    try:
        data, text = read_toml(path, max_bytes=MAX_INDEX_BYTES)
    except FileProblems as e:
        raise CatalogError(e.problems) from None
    reader = _IndexReader(path, text)
    doc = reader.table(data, (), ("plugin",))
    listed = doc.get("plugin", [])
    if not isinstance(listed, list):
        reader.error(("plugin",), f"must be an array of tables ([[plugin]]), not {type_name(listed)}")
        listed = []
    entries: list[Entry] = []
    for i, item in enumerate(listed):
        entry = reader.entry(item, ("plugin", i))
        if entry is None:
            continue
        if any(e.name == entry.name and str(e.version) == str(entry.version) for e in entries):
            reader.error(("plugin", i), f"{entry.name} {entry.version} is listed twice")
        entries.append(entry)
    if reader.problems:
        raise CatalogError(reader.sorted_problems())
    return tuple(entries)


_ENTRY_FIELDS = ("name", "version", "description", "permissions", "archive", "sha256")
_DESCRIPTION_MAX = 300


class _IndexReader(Reporter):
    """Validates the entries of one index file."""

    def entry(self, value: object, path: FieldPath) -> Entry | None:
        table = self.table(value, path, _ENTRY_FIELDS)
        if not table:
            return None
        name = self.string(table, path + ("name",))
        if name is not None and not PLUGIN_NAME.fullmatch(name):
            self.error(path + ("name",), f"{show(name)} is not a valid plugin name")
            name = None
        version = self.version(table, path + ("version",))
        description = self.string(table, path + ("description",))
        if description is not None and len(description) > _DESCRIPTION_MAX:
            self.error(path + ("description",), f"is longer than {_DESCRIPTION_MAX} characters")
            description = None
        permissions = self.permissions(table, path + ("permissions",))
        location = self.location(table, path + ("archive",))
        sha256 = self.string(table, path + ("sha256",))
        if sha256 is not None and not _SHA256.fullmatch(sha256.lower()):
            self.error(path + ("sha256",), f"{show(sha256)} is not a sha256 digest (64 hex digits)")
            sha256 = None
        if (name is None or version is None or description is None or permissions is None
                or location is None or sha256 is None):
            return None
        return Entry(name, version, description, permissions,
                     ArchiveLocation(location, sha256.lower()), str(self.file))

    def string(self, table: Mapping[str, Any], path: FieldPath) -> str | None:
        value = table.get(path[-1])
        if value is None:
            self.error(path, "required field is missing")
        elif not isinstance(value, str):
            self.error(path, f"must be a string, not {type_name(value)}")
        else:
            return value
        return None

    def version(self, table: Mapping[str, Any], path: FieldPath) -> Version | None:
        text = self.string(table, path)
        if text is None:
            return None
        try:
            return Version.parse(text)
        except ValueError as e:
            self.error(path, str(e))
            return None

    def permissions(self, table: Mapping[str, Any], path: FieldPath) -> tuple[Capability, ...] | None:
        value = table.get("permissions")
        if value is None:
            self.error(path, "required field is missing (use [] for none)")
            return None
        if not isinstance(value, list):
            self.error(path, f"must be an array of capability names, not {type_name(value)}")
            return None
        found: list[Capability] = []
        ok = True
        for i, item in enumerate(value):
            try:
                capability = Capability(item)
            except ValueError:
                self.error(path + (i,), f"unknown capability {show(item)} (known: {known_names()})")
                ok = False
                continue
            if capability in found:
                self.error(path + (i,), f"{show(item)} is listed twice")
                ok = False
            found.append(capability)
        return tuple(found) if ok else None

    def location(self, table: Mapping[str, Any], path: FieldPath) -> str | None:
        """The archive's URL or absolute path; relative paths are relative to the index file."""
        text = self.string(table, path)
        if text is None:
            return None
        scheme = urlsplit(text).scheme
        if scheme in _URL_SCHEMES:
            return text
        if scheme:
            self.error(path, f"{show(text)}: only http and https URLs or file paths are allowed")
        elif not text:
            self.error(path, "must not be empty")
        else:
            return str(self.file.parent.absolute() / text)
        return None


# -- fetching -----------------------------------------------------------------------------


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in _URL_SCHEMES


def fetch(location: str, *, max_bytes: int = MAX_ARCHIVE_BYTES,
          timeout: float = DOWNLOAD_TIMEOUT) -> bytes:
    """The bytes at `location` (an http(s) URL or a file path), at most `max_bytes`.

    Raises DownloadError saying what went wrong: unreachable, an HTTP error, too big, too slow.
    """
    if not is_url(location):
        try:
            with open(location, "rb") as f:
                data = f.read(max_bytes + 1)
        except OSError as e:
            raise DownloadError(f"{location}: cannot read: {e.strerror or e}") from None
        if len(data) > max_bytes:
            raise DownloadError(f"{location}: larger than {max_bytes} bytes")
        return data
    shown = _display_url(location)
    request = urllib.request.Request(location, headers={"User-Agent": f"qtui/{qtui.__version__}"})
    opener = urllib.request.build_opener(_SafeRedirects)
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise DownloadError(f"{shown}: {length} bytes, more than the limit of {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read1(_CHUNK):  # returns what has arrived, so the deadline is checked
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError(f"{shown}: larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise DownloadError(f"{shown}: took longer than {timeout:g} seconds")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{shown}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason.strerror if isinstance(e.reason, OSError) else e.reason
        raise DownloadError(f"{shown}: {reason or e.reason}") from None
    except TimeoutError:
        raise DownloadError(f"{shown}: no answer within {timeout:g} seconds") from None
    except (OSError, HTTPException, ValueError) as e:
        raise DownloadError(f"{shown}: {e}") from None


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), and never from https down to http."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        old, new = urlsplit(req.full_url).scheme, urlsplit(newurl).scheme
        if new not in _URL_SCHEMES or (old == "https" and new != "https"):
            raise DownloadError(
                f"{_display_url(req.full_url)}: redirected to {_display_url(newurl)}, refused"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _display_url(url: str) -> str:
    """`url` without a password, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


# -- packing ------------------------------------------------------------------------------


@attrs.frozen
class Packed:
    """An archive :func:`pack` wrote."""

    path: Path
    sha256: str
    manifest: Manifest

    def index_entry(self) -> str:
        """A ``[[plugin]]`` table for an index file in the archive's folder."""
        entry = {
            "name": self.manifest.name,
            "version": str(self.manifest.version),
            "description": self.manifest.description,
            "permissions": [c.value for c in self.manifest.permissions],
            "archive": self.path.name,
            "sha256": self.sha256,
        }
        return tomli_w.dumps({"plugin": [entry]})


def pack(folder: Path, out: Path | None = None) -> Packed:
    """Validate the plugin in `folder` and write its bundle files as ``NAME-VERSION.tar.gz``.

    `out` is the archive's path, or a folder to write it in (default: the current folder). The
    archive may not be written inside the plugin's folder. Raises PackageError listing the
    plugin's problems, or OSError if the archive cannot be written.
    """
    bundle = _read_folder(folder)
    manifest, code_hash = _validate(folder)
    if code_hash != bundle.hash:
        raise PackageError(f"{folder}: the plugin's files changed while it was being packed; try again")
    name = f"{manifest.name}-{manifest.version}.tar.gz"
    target = Path.cwd() / name if out is None else out / name if out.is_dir() else out
    if target.absolute().resolve().is_relative_to(folder.absolute().resolve()):
        raise PackageError(
            f"{target}: the archive may not be written inside the plugin folder {folder}; "
            "choose another folder"
        )
    data = _archive.pack(manifest.name, bundle.files)
    replace_file(target, data, mode=0o644)
    return Packed(target, hashlib.sha256(data).hexdigest(), manifest)


# -- installing ---------------------------------------------------------------------------


def user_plugins_dir() -> Path:
    """Where plugins are installed: the user's plugin dir."""
    return paths.config_dir() / discovery.PLUGINS_FOLDER


@attrs.frozen
class Installed:
    """What :func:`install` did."""

    manifest: Manifest
    folder: Path
    code_hash: str
    replaced: Version | None = None  # the version the install replaced
    changed: bool = True  # False: this very version and code was already installed
    sha256: str | None = None  # of the archive installed from


@attrs.frozen
class Origin:
    """Where an install came from: a catalog entry, a folder or an archive."""

    kind: str  # "catalog", "folder" or "archive"
    location: str  # the archive's URL or path, or the folder
    catalog: str | None = None  # the index file listing it (or "bundled"), for kind "catalog"

    def __str__(self) -> str:
        if self.kind == "catalog":
            return f"catalog {self.catalog} ({_display_url(self.location)})"
        return f"{self.kind} {_display_url(self.location)}"

    def to_toml(self) -> str:
        fields = {"from": self.kind, "location": _display_url(self.location)}
        if self.catalog is not None:
            fields["catalog"] = self.catalog
        return tomli_w.dumps(fields)


def _origin(source: Entry | Path) -> Origin:
    if isinstance(source, Entry):
        return Origin("catalog", source.location, source.catalog)
    return Origin("folder" if source.is_dir() else "archive", str(source.absolute()))


def installed_from(folder: Path) -> Origin | None:
    """Where the install in `folder` came from; None when unknown (a folder put there by hand)."""
    try:
        data, _text = read_toml(folder / ORIGIN_FILE, max_bytes=_MAX_ORIGIN_BYTES)
    except FileProblems:
        return None
    kind, location, index = data.get("from"), data.get("location"), data.get("catalog")
    if kind not in ("catalog", "folder", "archive") or not isinstance(location, str):
        return None
    return Origin(kind, location[:4096], index[:4096] if isinstance(index, str) else None)


def is_plugin_name(what: str) -> bool:
    """Does `what` name a plugin, as ``NAME`` or ``NAME@VERSION``, rather than a folder or archive?

    Plugin names have no ``/``: ``./name`` is the folder called name in the current folder.
    """
    return bool(_PLUGIN_SPEC.fullmatch(what))


def resolve(what: str, listing: Catalog | None = None) -> Entry | Path:
    """The catalog entry `what` names, or the folder or archive path it is.

    ``NAME`` is the newest release (:meth:`Catalog.newest`), ``NAME@VERSION`` that version.
    Names are looked up in `listing` (default: :func:`load_catalog`); NotAvailable if absent.
    """
    spec = _PLUGIN_SPEC.fullmatch(what)
    if spec is None:
        path = Path(what)
        if not path.exists():
            raise NotAvailable(f"{what}: no such folder or archive")
        return path
    name, version_text = spec.groups()
    listing = listing if listing is not None else load_catalog()
    if version_text is None:
        entry = listing.newest(name)
    else:
        try:
            version = Version.parse(version_text)
        except ValueError as e:
            raise PackageError(f"{what}: {e}") from None
        entry = listing.version(name, version)
    if entry is None:
        listed = sorted({e.version for e in listing.entries if e.name == name})
        if not listed:
            raise NotAvailable(f"no plugin named {name!r} in the catalog")
        versions = ", ".join(str(v) for v in listed)
        raise NotAvailable(f"the catalog has no {name} {version_text} (it lists {versions})")
    return entry


def install(source: Entry | Path, *, force: bool = False) -> Installed:
    """Install the plugin in `source` (a catalog entry, a folder or an archive) for the user.

    See the module docs for the checks and when an existing install is replaced. Raises
    PackageError (NotAvailable, DownloadError, ReplaceRefused) saying why nothing was installed.
    """
    files, origin, sha256 = _gather(source)
    directory = user_plugins_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with locked(directory / _LOCK):
        _recover(directory)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=directory))
        try:
            _write_files(staging, {**files, ORIGIN_FILE: _origin(source).to_toml().encode("utf-8")})
            manifest, code_hash = _validate(staging, shown_as=origin)
            if isinstance(source, Entry):
                _check_matches(source, manifest)
            target = directory / manifest.name
            existing = _existing_install(directory, target, manifest.name, force=force)
            if existing is not None and _same(existing, manifest, code_hash):
                _delete(staging)
                return Installed(manifest, target, code_hash, changed=False, sha256=sha256)
            if existing is not None and not (manifest.version > existing.manifest.version or force):
                old = existing.manifest.version
                how = "an older version" if old > manifest.version else "the same version with other code"
                raise ReplaceRefused(f"{manifest.name} {old} is installed in {target}; "
                                     f"{manifest.version} is {how}: use --force to replace it")
            _move_into_place(staging, target)
        except BaseException:
            _delete(staging)
            raise
    replaced = existing.manifest.version if existing is not None else None
    return Installed(manifest, target, code_hash, replaced, sha256=sha256)


def _gather(source: Entry | Path) -> tuple[Mapping[str, bytes], Path, str | None]:
    """The files to install, where to say they came from, and the archive's sha256 if any."""
    if isinstance(source, Path):
        if source.is_dir():
            return _read_folder(source).files, source, None
        data = fetch(str(source))
        files, shown = _unpack(data, str(source), source)
        return files, shown, hashlib.sha256(data).hexdigest()
    origin = source.origin
    if isinstance(origin, FolderLocation):
        bundle = _read_folder(origin.folder)
        if bundle.hash != origin.code_hash:
            raise PackageError(f"{origin.folder}: the plugin's files changed since the catalog was read")
        return bundle.files, origin.folder, None
    data = fetch(origin.location)
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 != origin.sha256:
        raise PackageError(
            f"{_display_url(origin.location)}: checksum mismatch: {source.catalog} says sha256 "
            f"{origin.sha256}, the archive has {sha256}; not installed"
        )
    if is_url(origin.location):  # problems are reported under the archive's file name
        where = Path(urlsplit(origin.location).path.rpartition("/")[2])
    else:
        where = Path(origin.location)
    files, shown = _unpack(data, _display_url(origin.location), where)
    return files, shown, sha256


def _read_folder(folder: Path) -> Bundle:
    try:
        return read_bundle(folder)
    except BundleError as e:
        raise PackageError(f"{folder}: not a usable plugin folder", e.problems) from None


def _unpack(data: bytes, label: str, where: Path) -> tuple[Mapping[str, bytes], Path]:
    """The files of the archive `label`, and the path (`where`/TOP) to report their problems under."""
    try:
        unpacked = _archive.unpack(data, max_bytes=MAX_BUNDLE_BYTES)
    except _archive.ArchiveError as e:
        raise PackageError(f"{label}: {e}; not installed") from None
    return unpacked.files, where / unpacked.top


def _validate(folder: Path, *, shown_as: Path | None = None) -> tuple[Manifest, str]:
    """The manifest and code hash of the plugin in `folder`; PackageError listing its problems.

    Problems are reported under `shown_as` instead of `folder` when given.
    """
    from qtui.plugins.bundles.check import check_folder  # the checks of `qtui plugin check`; loads Lua

    result = check_folder(folder)
    if result.problems or result.manifest is None or result.code_hash is None:
        shown = shown_as or folder
        problems = [
            attrs.evolve(p, file=shown / p.file.relative_to(folder)) if p.file.is_relative_to(folder) else p
            for p in result.problems
        ]
        count = len(problems)
        raise PackageError(f"{shown}: the plugin has {count} problem{'s' if count != 1 else ''}", problems)
    return result.manifest, result.code_hash


def _check_matches(entry: Entry, manifest: Manifest) -> None:
    """PackageError unless the plugin is the one `entry` describes."""
    where = f"{_display_url(entry.location)} (listed in {entry.catalog})"
    if manifest.name != entry.name or str(manifest.version) != str(entry.version):
        raise PackageError(
            f"{where} holds {manifest.name} {manifest.version}, not {entry.name} {entry.version}"
        )
    if set(manifest.permissions) != set(entry.permissions):
        requested = ", ".join(c.value for c in manifest.permissions) or "nothing"
        listed = ", ".join(c.value for c in entry.permissions) or "nothing"
        raise PackageError(f"{where}: the plugin requests {requested}, but the catalog lists {listed}")


def _existing_install(directory: Path, target: Path, name: str, *, force: bool) -> Plugin | None:
    """The install of `name` at `target` that installing may replace, if any.

    Raises PackageError if another folder of the user's declares `name`, and ReplaceRefused if
    `target` exists but is not an install of `name` (unless `force`: it is then simply replaced).
    """
    found = discovery.discover([(Source.USER, directory)])
    elsewhere = [p.folder for p in found.plugins if p.name == name and p.folder != target]
    elsewhere += [f for c in found.conflicts if c.name == name for f in c.folders if f != target]
    if elsewhere:
        raise PackageError(
            f"{name} is already installed in {elsewhere[0]}; remove it first (qtui plugin remove {name})"
        )
    current = found.get(name)
    if current is not None and current.folder == target:
        return current
    if os.path.lexists(target) and not force:
        raise ReplaceRefused(f"{target} exists but is not an install of {name}; use --force to replace it")
    return None


def _same(plugin: Plugin, manifest: Manifest, code_hash: str) -> bool:
    """Is `plugin` this very version and code?"""
    if str(plugin.manifest.version) != str(manifest.version):
        return False
    try:
        return read_bundle(plugin.folder).hash == code_hash
    except BundleError:
        return False


def _write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` into the new, empty `folder`, each flushed to disk."""
    folders = {folder}
    for relative, content in sorted(files.items()):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        folders.add(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
    for written in sorted(folders, reverse=True):
        sync_folder(written)


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an existing `target` is set aside until then, and restored
    if the rename fails."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        sync_folder(target.parent)
        return
    aside = target.with_name(f".{target.name}{_REPLACED_SUFFIX}")
    os.rename(target, aside)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(aside, target)
        raise
    sync_folder(target.parent)
    _delete(aside)


def _recover(directory: Path) -> None:
    """Finish what an interrupted install or removal in `directory` left (see module docs)."""
    for entry in os.scandir(directory):
        path = Path(entry.path)
        if entry.name.startswith(_STAGING_PREFIX):
            _delete(path)
        elif entry.name.startswith(".") and entry.name.endswith(_REMOVING_SUFFIX):
            _delete(path)
        elif entry.name.startswith(".") and entry.name.endswith(_REPLACED_SUFFIX):
            original = directory / entry.name[1 : -len(_REPLACED_SUFFIX)]
            if os.path.lexists(original):
                _delete(path)
            else:
                os.rename(path, original)


def _delete(path: Path) -> None:
    """Delete a folder tree, or only the link if `path` is a symbolic link (never its target)."""
    if path.is_symlink():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


# -- removing -----------------------------------------------------------------------------


@attrs.frozen
class Removed:
    """What :func:`remove` did."""

    name: str
    folders: tuple[Path, ...]  # the user's folders removed
    version: Version | None  # of the removed plugin; None if its manifest was broken
    now_used: Plugin | None = None  # the system or bundled plugin of that name, used from now on


def installed_folders(name: str) -> tuple[Path, ...]:
    """The user's folders holding plugin `name`: one, or several declaring the same name.

    A broken plugin is found by its folder name. Raises NotAvailable if there is none, saying
    so when `name` is a system or bundled plugin (not the user's to remove).
    """
    directory = user_plugins_dir()
    return _user_folders(directory, discovery.discover([(Source.USER, directory)]), name)


def _user_folders(directory: Path, mine: discovery.Discovery, name: str) -> tuple[Path, ...]:
    folders = [p.folder for p in mine.plugins if p.name == name]
    folders += [f for c in mine.conflicts if c.name == name for f in c.folders]
    folders += [b.folder for b in mine.broken if b.folder.name == name and b.folder != directory]
    if not folders:
        other = discovery.discover().get(name)
        if other is not None:
            raise NotAvailable(
                f"{name} is a {other.source} plugin ({other.folder}), not one you installed: "
                f"only plugins in {directory} can be removed"
            )
        raise NotAvailable(f"no plugin named {name!r} is installed in {directory}")
    return tuple(dict.fromkeys(folders))


def remove(name: str) -> Removed:
    """Remove the user's install of `name` (see :func:`installed_folders`)."""
    directory = user_plugins_dir()
    with locked(directory / _LOCK):
        _recover(directory)
        mine = discovery.discover([(Source.USER, directory)])
        folders = _user_folders(directory, mine, name)
        plugin = mine.get(name)
        for folder in folders:
            aside = folder.with_name(f".{folder.name}{_REMOVING_SUFFIX}")
            os.rename(folder, aside)
            sync_folder(directory)
            _delete(aside)
    now_used = discovery.discover().get(name)
    return Removed(name, folders, plugin.manifest.version if plugin else None, now_used)
