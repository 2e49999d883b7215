"""A fleet lockfile: the plugins of one host, their code and the decisions about them, to repeat elsewhere.

``qtui plugin lock`` writes one (:func:`make_lock`, :func:`lock_text`): a TOML file with a
``[[plugin]]`` table per installed plugin holding its name, version, bundle hash, enabled
state, the decisions for that code (``granted`` with their ``scopes``, ``denied``,
``no_confirm``) and its ``settings`` (the format: LOCKFILE in qtui-plugin(5)).

``qtui plugin apply`` (:func:`apply_lock`) makes another host match: each plugin is verified
(the installed version has the locked hash) or installed from the catalog and then verified;
then its decisions, settings and enabled state are applied. A plugin whose code differs from
the lockfile is refused: none of its decisions are applied and it is disabled, so no console
starts it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from qtui.files.tomlfile import FieldPath, FileProblems, Reporter, read_toml, show, type_name
from qtui.plugins.bundles import catalog
from qtui.plugins.bundles.bundle import BundleError, read_bundle
from qtui.plugins.bundles.capabilities import Capability, known_names
from qtui.plugins.bundles.discovery import Discovery, discover
from qtui.plugins.bundles.manifest import PLUGIN_NAME, Version
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog, Outcome
from qtui.plugins.trust.enabled import EnabledStore
from qtui.plugins.trust.permissions import DecisionError, PermissionStore
from qtui.plugins.trust.review import GrantedCopies
from qtui.plugins.trust.scope import SCOPABLE, Scope, read_scopes, scopes_toml

LOCK_FORMAT = 1
MAX_FILE_BYTES = 4 * 1024 * 1024
_HEADER = ("# qtui plugin lockfile: the plugins, their code and the decisions about them.\n"
           "# Apply it on another host with `qtui plugin apply FILE`.\n\n")
_FIELDS = ("name", "version", "hash", "enabled", "granted", "denied", "no_confirm", "scopes", "settings")


class LockFileError(FileProblems):
    """The lockfile is unreadable or invalid; nothing of it is applied."""


@attrs.frozen
class LockedPlugin:
    """One plugin as the lockfile records it."""

    name: str
    version: str
    hash: str
    enabled: bool = False
    granted: tuple[Capability, ...] = ()
    denied: tuple[Capability, ...] = ()
    no_confirm: tuple[Capability, ...] = ()
    scopes: Mapping[Capability, Scope] = attrs.field(factory=dict)
    settings: Mapping[str, Any] = attrs.field(factory=dict)

    def to_toml(self) -> dict[str, Any]:
        table: dict[str, Any] = {
            "name": self.name, "version": self.version, "hash": self.hash, "enabled": self.enabled,
            "granted": [c.value for c in self.granted], "denied": [c.value for c in self.denied],
            "no_confirm": [c.value for c in self.no_confirm],
        }
        if scopes_toml(self.scopes):
            table["scopes"] = scopes_toml(self.scopes)
        if self.settings:
            table["settings"] = dict(self.settings)
        return table


# -- writing --------------------------------------------------------------------------------


def make_lock(discovery: Discovery | None = None, *, store: PermissionStore | None = None,
              enabled: EnabledStore | None = None, settings: SettingsStore | None = None) -> list[LockedPlugin]:
    """Every usable installed plugin with its code hash, decisions for that code, settings and state.

    Raises BundleError for a plugin whose files cannot be read, PermissionsFileError and
    FileProblems for unreadable decisions or enabled lists: a lockfile is never partial.
    """
    discovery = discovery or discover()
    store, settings = store or PermissionStore(), settings or SettingsStore()
    on = set((enabled or EnabledStore()).load())
    everything = store.load()
    locked = []
    for plugin in sorted(discovery.plugins, key=lambda p: p.name):
        code_hash = read_bundle(plugin.folder).hash
        record = next((r for r in everything.get(plugin.name, ()) if r.matches(plugin.manifest, code_hash)), None)
        order = plugin.manifest.permissions
        locked.append(LockedPlugin(
            name=plugin.name, version=str(plugin.manifest.version), hash=code_hash, enabled=plugin.name in on,
            granted=tuple(c for c in order if record and c in record.granted),
            denied=tuple(c for c in order if record and c in record.denied),
            no_confirm=tuple(c for c in order if record and c in record.no_confirm),
            scopes=dict(record.scopes) if record else {},
            settings=settings.values(plugin.manifest)[0],
        ))
    return locked


def lock_text(plugins: Sequence[LockedPlugin]) -> str:
    """The lockfile for `plugins`."""
    return _HEADER + tomli_w.dumps({"lockfile": LOCK_FORMAT, "plugin": [p.to_toml() for p in plugins]})


# -- reading --------------------------------------------------------------------------------


def read_lock(path: Path) -> list[LockedPlugin]:
    """The plugins of the lockfile at `path`; LockFileError names the file, line and field."""
    try:
        data, text = read_toml(path, max_bytes=MAX_FILE_BYTES)
    except FileProblems as e:
        raise LockFileError(e.problems) from None
    reader = _LockReader(path, text)
    doc = reader.table(data, (), ["lockfile", "plugin"])
    if doc.get("lockfile") != LOCK_FORMAT:
        reader.error(("lockfile",), f"must be {LOCK_FORMAT} (the lockfile format this qtui reads), "
                                    f"not {show(doc.get('lockfile'))}")
    entries = doc.get("plugin", [])
    plugins: list[LockedPlugin] = []
    if not isinstance(entries, list):
        reader.error(("plugin",), f"must be an array of tables ([[plugin]]), not {type_name(entries)}")
        entries = []
    for index, entry in enumerate(entries):
        found = reader.plugin(("plugin", index), entry)
        if found is not None:
            if any(p.name == found.name for p in plugins):
                reader.error(("plugin", index, "name"), f"{found.name} is locked twice")
            plugins.append(found)
    if reader.problems:
        raise LockFileError(reader.sorted_problems())
    return plugins


class _LockReader(Reporter):
    def plugin(self, path: FieldPath, value: object) -> LockedPlugin | None:
        table = self.table(value, path, _FIELDS)
        before = len(self.problems)
        for key in ("name", "version", "hash"):
            if not isinstance(table.get(key), str):
                self.error(path + (key,), "required, a string")
        name, version, code_hash = table.get("name"), table.get("version"), table.get("hash")
        if isinstance(name, str) and not PLUGIN_NAME.fullmatch(name):
            self.error(path + ("name",), f"{show(name)} is not a plugin name")
        if isinstance(version, str):
            try:
                Version.parse(version)
            except ValueError as e:
                self.error(path + ("version",), str(e))
        if isinstance(code_hash, str) and not (code_hash.startswith("sha256:") and len(code_hash) == 71):
            self.error(path + ("hash",), "must be 'sha256:' followed by 64 hex digits")
        enabled = table.get("enabled", False)
        if not isinstance(enabled, bool):
            self.error(path + ("enabled",), f"must be true or false, not {type_name(enabled)}")
        sets = {key: self.capabilities(table, path + (key,)) for key in ("granted", "denied", "no_confirm")}
        for both in sorted(set(sets["granted"]) & set(sets["denied"])):
            self.error(path + ("denied",), f"{both} is both granted and denied")
        for extra in sorted(set(sets["no_confirm"]) - set(sets["granted"])):
            self.error(path + ("no_confirm",), f"{extra} is not granted")
        scopes = read_scopes(self, table["scopes"], path + ("scopes",)) if "scopes" in table else {}
        for extra in sorted(set(scopes) - set(sets["granted"])):
            self.error(path + ("scopes", extra.value), f"{extra} is not granted")
        settings = table.get("settings", {})
        if not isinstance(settings, dict):
            self.error(path + ("settings",), f"must be a table of setting values, not {type_name(settings)}")
        if len(self.problems) > before:
            return None
        assert isinstance(name, str) and isinstance(version, str) and isinstance(code_hash, str)
        return LockedPlugin(name, version, code_hash, enabled, sets["granted"], sets["denied"],
                            sets["no_confirm"], scopes, settings)

    def capabilities(self, table: Mapping[str, Any], path: FieldPath) -> tuple[Capability, ...]:
        value = table.get(path[-1], [])
        if not isinstance(value, list):
            self.error(path, f"must be an array of capability names, not {type_name(value)}")
            return ()
        found: list[Capability] = []
        for i, item in enumerate(value):
            try:
                found.append(Capability(item))
            except ValueError:
                self.error(path + (i,), f"unknown capability {show(item)} (known: {known_names()})")
        return tuple(dict.fromkeys(found))


# -- applying -------------------------------------------------------------------------------


class Status(enum.StrEnum):
    """What applying the lockfile did with one plugin."""

    VERIFIED = "verified"  # installed with the locked code; decisions applied
    INSTALLED = "installed"  # installed from the catalog, then verified; decisions applied
    REFUSED = "refused"  # its code differs from the lockfile: disabled, nothing applied
    MISSING = "missing"  # neither installed in that version nor in the catalog: nothing applied
    INVALID = "invalid"  # the locked decisions or settings do not fit the plugin: nothing applied


@attrs.frozen
class Applied:
    """The result for one locked plugin, with what happened in words."""

    name: str
    version: str
    status: Status
    message: str


def apply_lock(plugins: Sequence[LockedPlugin], *, listing: catalog.Catalog, source: str,
               store: PermissionStore | None = None, enabled: EnabledStore | None = None,
               settings: SettingsStore | None = None, audit: AuditLog | None = None) -> list[Applied]:
    """Make this host match `plugins` (see the module docs); one result per plugin, in order.

    `source` names the lockfile in audit entries. Errors of the files involved
    (PermissionsFileError, FileProblems) and of downloads (catalog.PackageError) propagate.
    """
    store, enabled = store or PermissionStore(), enabled or EnabledStore()
    settings, audit = settings or SettingsStore(), audit or AuditLog()
    results = []
    for locked in plugins:
        result = _apply_one(locked, listing, store, settings, audit, source)
        if result.status in (Status.VERIFIED, Status.INSTALLED):
            enabled.set(locked.name, locked.enabled)
        else:
            enabled.set(locked.name, False)  # no console starts code the lockfile does not name
        results.append(result)
    return results


def _apply_one(locked: LockedPlugin, listing: catalog.Catalog, store: PermissionStore,
               settings: SettingsStore, audit: AuditLog, source: str) -> Applied:
    def result(status: Status, message: str) -> Applied:
        return Applied(locked.name, locked.version, status, message)

    plugin = discover().get(locked.name)
    status = Status.VERIFIED
    if plugin is None or str(plugin.manifest.version) != locked.version:
        entry = listing.version(locked.name, Version.parse(locked.version))
        if entry is None:
            found = f"{plugin.manifest.version} is installed" if plugin else "it is not installed"
            return result(Status.MISSING, f"{locked.name} {locked.version} is not in the catalog and {found}")
        installed = catalog.install(entry, force=True)
        if installed.code_hash != locked.hash:
            return result(Status.REFUSED, f"the catalog's {locked.name} {locked.version} has code "
                                          f"{installed.code_hash[:23]}…, the lockfile {locked.hash[:23]}…")
        plugin = discover().get(locked.name)
        status = Status.INSTALLED
    assert plugin is not None
    try:
        bundle = read_bundle(plugin.folder)
    except BundleError as e:
        return result(Status.REFUSED, f"its files cannot be read: {e.problems[0]}")
    if bundle.hash != locked.hash:
        return result(Status.REFUSED, f"its code in {plugin.folder} is {bundle.hash[:23]}…, the lockfile's is "
                                      f"{locked.hash[:23]}…")
    manifest = plugin.manifest
    granted = set(locked.granted)
    for name, value in locked.settings.items():  # checked before anything is written
        setting = manifest.setting(name)
        try:
            if setting is None:
                raise ValueError(f"{manifest.name} has no such setting")
            setting.validate(value)
        except ValueError as e:
            return result(Status.INVALID, f"setting {name}: {e}")
    try:
        store.decide(manifest, bundle.hash, grant=locked.granted, deny=locked.denied,
                     forget=[c for c in manifest.permissions if c not in granted | set(locked.denied)],
                     confirm={c: c not in locked.no_confirm for c in locked.granted if c.destructive},
                     scopes={c: locked.scopes.get(c, Scope()) for c in locked.granted if c in SCOPABLE})
    except DecisionError as e:
        return result(Status.INVALID, str(e))
    if locked.settings:
        settings.save(manifest, dict(locked.settings))
    if granted:
        GrantedCopies().keep(manifest.name, str(manifest.version), bundle)
    for capability in manifest.permissions:
        outcome = Outcome.GRANTED if capability in granted else Outcome.REVOKED if capability in locked.denied else None
        if outcome is not None:
            audit.record(manifest.name, locked.version, capability.value, outcome,
                         f"qtui plugin apply {source}; code {bundle.hash[:23]}")
    done = "installed and verified" if status is Status.INSTALLED else "verified"
    return result(status, f"{done}; {len(locked.granted)} granted, {len(locked.denied)} denied, "
                          f"{'enabled' if locked.enabled else 'disabled'}")
