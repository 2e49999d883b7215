"""Who may use which capability: the operator's decisions, the site policy, and the verdict.

**Decisions** live in ``permissions.toml`` in the XDG config dir (:func:`permissions_path`)::

    [[plugins.tenant-sla]]
    version = "1.2.0"
    hash = "sha256:9f2c..."
    decided_at = 2024-05-01T12:00:00Z
    requested = ["stats.read", "jobs.purge"]
    granted = ["stats.read", "jobs.purge"]
    denied = []
    no_confirm = ["jobs.purge"]     # "don't ask me to confirm each purge by this version"
    [plugins.tenant-sla.scopes."jobs.purge"]   # optional bounds on a grant (.scope)
    queues = ["tenant-*"]
    rate = "500/h"

A decision holds for one plugin name, version and
:func:`~qtui.plugins.bundles.bundle.bundle_hash` (the code). A new version
or changed code gets a new record, so the plugin asks again; :meth:`PermissionStore.pending`
says what is undecided and what changed since the last decision. The newest
:data:`KEEP_RECORDS` records per plugin are kept. Denials persist like grants. Every change is
a locked read-modify-write with an atomic replace, so two consoles never lose a decision.
A file that is corrupt or wrongly hand-edited is never read as a grant: loading raises
:class:`PermissionsFileError` naming file, line and field, and nothing is written over it.

The site policy (:mod:`qtui.plugins.trust.policy`) wins over the operator's decisions. :meth:`PermissionStore.grants` combines both into
:class:`Grants`, whose :meth:`Grants.check` gives a :class:`Verdict`, the reason for it and the
bounds (:mod:`qtui.plugins.trust.scope`) a granted use must keep within.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from qtui import paths
from qtui.files.atomic import locked, replace_file
from qtui.files.tomlfile import (
    FieldPath,
    FileProblems,
    Reporter,
    read_toml,
    show,
    type_name,
)
from qtui.plugins.bundles.capabilities import Capability, known_names
from qtui.plugins.bundles.manifest import PLUGIN_NAME, Manifest, Version
from qtui.plugins.trust.policy import SitePolicy
from qtui.plugins.trust.scope import SCOPABLE, Bound, Scope, read_scopes, scopes_toml

PERMISSIONS_FILE = "permissions.toml"
#: Decision records kept per plugin (newest first): enough to tell what changed since.
KEEP_RECORDS = 5
MAX_FILE_BYTES = 4 * 1024 * 1024

_HASH = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_HEADER = (
    "# qtui plugin permission decisions, one record per plugin version and code hash.\n"
    "# Change them with `qtui plugin grant/revoke`; hand edits are checked on load.\n\n"
)


def permissions_path() -> Path:
    """Where the operator's decisions are kept."""
    return paths.config_dir() / PERMISSIONS_FILE


class PermissionsFileError(FileProblems):
    """permissions.toml or policy.toml is unreadable or invalid; nothing in it is trusted."""


class DecisionError(ValueError):
    """A decision that cannot be recorded (e.g. granting a capability the plugin did not request)."""


# -- decisions ----------------------------------------------------------------------------


@attrs.frozen
class Record:
    """The operator's decisions for one plugin version with one code hash."""

    plugin: str
    version: str
    hash: str
    decided_at: datetime.datetime
    requested: frozenset[Capability]  # what the manifest asked for when this was decided
    granted: frozenset[Capability] = frozenset()
    denied: frozenset[Capability] = frozenset()
    no_confirm: frozenset[Capability] = frozenset()  # destructive uses run without asking
    scopes: Mapping[Capability, Scope] = attrs.field(factory=dict)  # bounds on granted ones

    def matches(self, manifest: Manifest, code_hash: str) -> bool:
        return self.version == str(manifest.version) and self.hash == code_hash

    def to_toml(self) -> dict[str, Any]:
        def names(caps: frozenset[Capability]) -> list[str]:
            return sorted(c.value for c in caps)

        table = {
            "version": self.version,
            "hash": self.hash,
            "decided_at": self.decided_at,
            "requested": names(self.requested),
            "granted": names(self.granted),
            "denied": names(self.denied),
            "no_confirm": names(self.no_confirm),
        }
        scopes = scopes_toml(self.scopes)
        return {**table, "scopes": scopes} if scopes else table


@attrs.frozen
class Pending:
    """What the operator has yet to decide for a plugin version, and what changed since last time."""

    plugin: str
    version: str
    undecided: tuple[Capability, ...]  # requested, with no decision for this version and code
    previous: Record | None  # the latest decision for another version or code of this plugin
    added: tuple[Capability, ...] = ()  # requested now but not in `previous`
    removed: tuple[Capability, ...] = ()  # requested in `previous` but no longer

    @property
    def code_changed(self) -> bool:
        """Same version number as the previous decision but different files."""
        return self.previous is not None and self.previous.version == self.version

    @property
    def is_upgrade(self) -> bool | None:
        """True for a newer version than the previous decision, False for older, None if unknown."""
        if self.previous is None or self.code_changed:
            return None
        try:
            return Version.parse(self.version) > Version.parse(self.previous.version)
        except ValueError:
            return None


class PermissionStore:
    """The operator's decisions in a ``permissions.toml`` (default: :func:`permissions_path`)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else permissions_path()
        self._parsed: tuple[bytes, dict[str, tuple[Record, ...]]] | None = None  # file bytes, their records

    def load(self) -> dict[str, tuple[Record, ...]]:
        """Every plugin's records, oldest first. A missing file holds no decisions.

        The checked records are kept with the bytes they came from: while the file holds the
        same bytes they are returned without parsing again (a read and a compare instead of a
        parse and a check each time a plugin asks). Any change, by any process, is parsed.
        """
        try:
            with open(self.path, "rb") as f:
                raw: bytes | None = f.read(MAX_FILE_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except OSError:
            raw = None  # read_toml reports it, naming the file
        if self._parsed is not None and raw == self._parsed[0]:
            return dict(self._parsed[1])
        try:
            data, text = read_toml(self.path, max_bytes=MAX_FILE_BYTES)
        except FileProblems as e:
            raise PermissionsFileError(e.problems) from None
        everything = _StoreReader(self.path, text).read(data)
        self._parsed = (text.encode("utf-8"), everything)
        return dict(everything)

    def records(self, plugin: str) -> tuple[Record, ...]:
        """The plugin's records, oldest first."""
        return self.load().get(plugin, ())

    def current(self, manifest: Manifest, code_hash: str) -> Record | None:
        """The record for exactly this plugin version and code, if decided."""
        return next((r for r in self.records(manifest.name) if r.matches(manifest, code_hash)), None)

    def pending(self, manifest: Manifest, code_hash: str) -> Pending:
        """Which requested capabilities need asking, and the change since the last decision."""
        records = self.records(manifest.name)
        current = next((r for r in records if r.matches(manifest, code_hash)), None)
        previous = next((r for r in reversed(records) if r is not current), None)
        decided = current.granted | current.denied if current else frozenset()
        requested = manifest.permissions
        return Pending(
            plugin=manifest.name,
            version=str(manifest.version),
            undecided=tuple(c for c in requested if c not in decided),
            previous=previous,
            added=tuple(c for c in requested if c not in previous.requested) if previous else (),
            removed=(
                tuple(sorted(previous.requested - set(requested))) if previous else ()
            ),
        )

    def decide(
        self,
        manifest: Manifest,
        code_hash: str,
        *,
        grant: Iterable[Capability] = (),
        deny: Iterable[Capability] = (),
        forget: Iterable[Capability] = (),
        confirm: Mapping[Capability, bool] | None = None,
        scopes: Mapping[Capability, Scope] | None = None,
        now: datetime.datetime | None = None,
    ) -> Record:
        """Record decisions for this plugin version and code, returning its updated record.

        `grant`, `deny` and `forget` (back to undecided) take requested capabilities;
        `confirm` maps a granted destructive capability to whether each use must be confirmed
        (False: "don't ask again for this plugin version"); `scopes` sets the bounds of granted
        capabilities (an unbounded :class:`Scope` removes them). A granted capability keeps the
        scope it had, for this code or, failing that, for the plugin's latest other record: a
        bound carries over to new code, a grant does not. Raises DecisionError for a capability
        the manifest does not request, and PermissionsFileError if the file is invalid (it is
        then left untouched).
        """
        grant, deny, forget = frozenset(grant), frozenset(deny), frozenset(forget)
        confirm = dict(confirm or {})
        scopes = dict(scopes or {})
        self._check_decision(manifest, code_hash, grant, deny, forget, confirm, scopes)
        when = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
        with locked(self.path):
            everything = self.load()
            records = list(everything.get(manifest.name, ()))
            old = next((r for r in records if r.matches(manifest, code_hash)), None)
            latest = old or (records[-1] if records else None)
            granted = (old.granted if old else frozenset()) - deny - forget | grant
            denied = (old.denied if old else frozenset()) - grant - forget | deny
            no_confirm = (old.no_confirm if old else frozenset()) & granted
            no_confirm |= {c for c, ask in confirm.items() if not ask and c in granted}
            no_confirm -= {c for c, ask in confirm.items() if ask}
            for capability in [*confirm, *scopes]:
                if capability not in granted:
                    raise DecisionError(f"{capability} is not granted to {manifest.name}")
            kept = {c: s for c, s in (latest.scopes if latest else {}).items() if c in granted}
            bounds = {c: s for c, s in {**kept, **scopes}.items() if s.bounded}
            record = Record(
                plugin=manifest.name,
                version=str(manifest.version),
                hash=code_hash,
                decided_at=when,
                requested=frozenset(manifest.permissions),
                granted=granted,
                denied=denied,
                no_confirm=no_confirm,
                scopes=bounds,
            )
            records = [r for r in records if r is not old] + [record]
            everything[manifest.name] = tuple(records[-KEEP_RECORDS:])
            self._write(everything)
        return record

    def forget_plugin(self, plugin: str) -> int:
        """Drop every decision about `plugin` (it will ask again); returns how many records went."""
        with locked(self.path):
            everything = self.load()
            dropped = everything.pop(plugin, ())
            if dropped:
                self._write(everything)
        return len(dropped)

    def grants(self, manifest: Manifest, code_hash: str, policy: SitePolicy) -> Grants:
        """What this plugin version may do now, under `policy`."""
        return Grants(manifest, code_hash, self.current(manifest, code_hash), policy)

    def _check_decision(
        self,
        manifest: Manifest,
        code_hash: str,
        grant: frozenset[Capability],
        deny: frozenset[Capability],
        forget: frozenset[Capability],
        confirm: Mapping[Capability, bool],
        scopes: Mapping[Capability, Scope],
    ) -> None:
        if not _HASH.fullmatch(code_hash):
            raise DecisionError(f"{show(code_hash)} is not a bundle hash (sha256:<64 hex digits>)")
        for capability in grant | deny | forget | set(confirm) | set(scopes):
            if capability not in manifest.permissions:
                raise DecisionError(f"{manifest.name} does not request {capability}")
        for capability in scopes:
            if capability not in SCOPABLE:
                raise DecisionError(f"{capability} cannot be scoped (only {', '.join(SCOPABLE)})")
        clash = (grant & deny) | (grant & forget) | (deny & forget)
        if clash:
            raise DecisionError(f"conflicting decisions for {', '.join(sorted(clash))}")
        for capability in confirm:
            if not capability.destructive:
                raise DecisionError(f"{capability} is not destructive: its uses are never confirmed")

    def _write(self, everything: Mapping[str, tuple[Record, ...]]) -> None:
        doc = {
            "plugins": {
                name: [r.to_toml() for r in records]
                for name, records in sorted(everything.items())
                if records
            }
        }
        replace_file(self.path, _HEADER + tomli_w.dumps(doc))


_RECORD_FIELDS = ("version", "hash", "decided_at", "requested", "granted", "denied", "no_confirm")
_OPTIONAL_FIELDS = ("scopes",)
_MISSING = object()


class _StoreReader(Reporter):
    """Validates a permissions.toml document, failing closed on any problem."""

    def read(self, data: dict[str, Any]) -> dict[str, tuple[Record, ...]]:
        doc = self.table(data, (), ["plugins"])
        plugins = doc.get("plugins", {})
        result: dict[str, tuple[Record, ...]] = {}
        if not isinstance(plugins, dict):
            self.error(("plugins",), f"must be a table of plugins, not {type_name(plugins)}")
            plugins = {}
        for name, records in plugins.items():
            path: FieldPath = ("plugins", name)
            if not PLUGIN_NAME.fullmatch(name):
                self.error(path, f"{show(name)} is not a valid plugin name")
                continue
            if not isinstance(records, list):
                self.error(path, f"must be an array of tables ([[plugins.{name}]]), not {type_name(records)}")
                continue
            found = [self.record(name, path + (i,), r) for i, r in enumerate(records)]
            result[name] = tuple(r for r in found if r is not None)
            keys = [(r.version, r.hash) for r in result[name]]
            for i, key in enumerate(keys):
                if key in keys[:i]:
                    self.error(path + (i,), f"a second record for version {key[0]} with the same hash")
        if self.problems:
            raise PermissionsFileError(self.sorted_problems())
        return result

    def record(self, plugin: str, path: FieldPath, value: object) -> Record | None:
        if value == {}:
            self.error(path, f"an empty record (a record has {', '.join(_RECORD_FIELDS)})")
            return None
        table = self.table(value, path, _RECORD_FIELDS + _OPTIONAL_FIELDS)
        if not table:
            return None
        before = len(self.problems)
        for key in _RECORD_FIELDS:
            if key not in table:
                self.error(path + (key,), "required field is missing")
        version = table.get("version")
        if "version" in table and not isinstance(version, str):
            self.error(path + ("version",), f"must be a string, not {type_name(version)}")
        elif "version" in table:
            try:
                Version.parse(version)
            except ValueError as e:
                self.error(path + ("version",), str(e))
        code_hash = table.get("hash")
        if "hash" in table and not (isinstance(code_hash, str) and _HASH.fullmatch(code_hash)):
            self.error(path + ("hash",), "must be 'sha256:' followed by 64 lowercase hex digits")
        decided_at = table.get("decided_at")
        if "decided_at" in table and not (
            isinstance(decided_at, datetime.datetime) and decided_at.tzinfo is not None
        ):
            self.error(path + ("decided_at",), "must be a date and time with a time zone")
        sets = {key: self.capabilities(table, path + (key,)) for key in _RECORD_FIELDS[3:]}
        scopes = read_scopes(self, table["scopes"], path + ("scopes",)) if "scopes" in table else {}
        if len(self.problems) > before:
            return None
        requested, granted, denied, no_confirm = (sets[k] for k in _RECORD_FIELDS[3:])
        for key, caps in (("granted", granted), ("denied", denied)):
            for extra in sorted(caps - requested):
                self.error(path + (key,), f"{extra} is not among the requested capabilities")
        for both in sorted(granted & denied):
            self.error(path + ("denied",), f"{both} is both granted and denied")
        for extra in sorted(no_confirm - granted):
            self.error(path + ("no_confirm",), f"{extra} is not granted")
        for extra in sorted(c for c in no_confirm if not c.destructive):
            self.error(path + ("no_confirm",), f"{extra} is not destructive")
        for extra in sorted(set(scopes) - granted):
            self.error(path + ("scopes", extra.value), f"{extra} is not granted")
        if len(self.problems) > before:
            return None
        assert isinstance(version, str) and isinstance(code_hash, str)
        assert isinstance(decided_at, datetime.datetime)
        return Record(plugin, version, code_hash, decided_at, requested, granted, denied, no_confirm, scopes)

    def capabilities(self, table: Mapping[str, Any], path: FieldPath) -> frozenset[Capability]:
        value = table.get(path[-1], [])
        if not isinstance(value, list):
            self.error(path, f"must be an array of capability names, not {type_name(value)}")
            return frozenset()
        found = set()
        for i, item in enumerate(value):
            try:
                found.add(Capability(item))
            except ValueError:
                self.error(path + (i,), f"unknown capability {show(item)} (known: {known_names()})")
        return frozenset(found)


# -- verdicts -----------------------------------------------------------------------------


class Verdict(enum.StrEnum):
    """Whether a plugin may use a capability now."""

    GRANTED = "granted"
    DENIED = "denied"  # by the operator
    FORBIDDEN = "forbidden"  # by the site policy
    UNDECIDED = "undecided"  # the operator has not decided for this version and code
    NOT_REQUESTED = "not_requested"  # the manifest does not ask for it


@attrs.frozen
class Effective:
    """The verdict on one capability for one plugin version, with the reason in words."""

    capability: Capability
    verdict: Verdict
    reason: str
    confirm: bool = False  # granted and destructive: ask the operator before each use
    bounds: tuple[Bound, ...] = ()  # every one must hold for a use to go ahead

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.GRANTED

    def allows_queue(self, queue: str) -> bool:
        """Whether every bound lets a use touch `queue`."""
        return all(b.scope.allows(queue) for b in self.bounds)

    @property
    def queue_bounded(self) -> bool:
        """Whether a bound limits the queues (so a use on every queue at once is out of scope)."""
        return any(b.scope.queues is not None for b in self.bounds)


@attrs.frozen
class Grants:
    """The operator's decisions and the site policy for one plugin version and code."""

    manifest: Manifest
    code_hash: str
    record: Record | None
    policy: SitePolicy

    def check(self, capability: Capability) -> Effective:
        """May the plugin use `capability` now, and why (not)."""
        name = self.manifest.name
        if capability not in self.manifest.permissions:
            return Effective(
                capability, Verdict.NOT_REQUESTED,
                f"{name}'s manifest does not request {capability}",
            )
        if self.policy.forbids(name, capability):
            where = f" ({self.policy.path})" if self.policy.path else ""
            return Effective(capability, Verdict.FORBIDDEN, f"forbidden by the site policy{where}")
        record = self.record
        if record is not None:
            day = record.decided_at.date().isoformat()
            if capability in record.granted:
                mine = record.scopes.get(capability)
                bounds = ((Bound(mine, "your grant"),) if mine is not None else ()) + tuple(
                    Bound(s, "site policy") for s in self.policy.scopes_of(name, capability))
                return Effective(
                    capability, Verdict.GRANTED,
                    f"granted by you on {day}",
                    confirm=capability.destructive and capability not in record.no_confirm,
                    bounds=bounds,
                )
            if capability in record.denied:
                return Effective(capability, Verdict.DENIED, f"denied by you on {day}")
        return Effective(
            capability, Verdict.UNDECIDED,
            f"not decided yet for {name} {self.manifest.version} with this code",
        )

    def all(self) -> tuple[Effective, ...]:
        """The verdict on every requested capability, in manifest order."""
        return tuple(self.check(c) for c in self.manifest.permissions)
