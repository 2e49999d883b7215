"""`qtui plugin ...`: the administrator's view of the Lua plugins, their lifecycle and trust.

Every command reads the same places the console does (see :mod:`qtui.plugins.bundles.discovery`,
:mod:`qtui.plugins.trust.permissions` and :mod:`qtui.plugins.trust.audit`), and enabling,
configuring and removing change the same files, through :mod:`qtui.plugins.lifecycle`; a running
console applies those changes at its next poll of the queue. Decisions are recorded for the
plugin's current version and code hash, so changed code asks again. Text that came from plugin
folders is made inert with :func:`qtui.sanitize.one_line` before it is printed.

Exit status follows :mod:`qtui.cli.common`; ``plugin check`` exits 1 when it found problems, like a
linter; ``plugin apply`` exits 4 when a plugin's code differs from the lockfile. A problem in a
file is reported as ``file:line: field: message``, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from qtui import report
from qtui.authoring import lint, scaffold, spectest
from qtui.clock import SYSTEM_CLOCK, utc_now
from qtui.cli.common import (
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    confirm_or_refuse,
)
from qtui.console import format as fmt
from qtui.files.tomlfile import FileProblems, Problem
from qtui.model import InvalidInput, NotFound
from qtui.plugins import lockfile
from qtui.plugins.bundles import catalog
from qtui.plugins.bundles.bundle import Bundle, BundleError, read_bundle
from qtui.plugins.bundles.capabilities import Capability, UnknownCapability
from qtui.plugins.bundles.check import check_folder
from qtui.plugins.bundles.discovery import Discovery, Plugin, Shadowed, discover, plugin_dirs
from qtui.plugins.bundles.manifest import (
    HOST_API_VERSION,
    MANIFEST_FILE,
    Manifest,
    Setting,
    SettingType,
)
from qtui.plugins.lifecycle import Status, assignments, declared_settings, forget, status
from qtui.plugins.runtime.api import gated_functions
from qtui.plugins.runtime.running import read_running
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditEntry, AuditError, AuditFilter, AuditLog, Outcome
from qtui.plugins.trust.enabled import EnabledStore
from qtui.plugins.trust.permissions import (
    DecisionError,
    Effective,
    Grants,
    Pending,
    PermissionsFileError,
    PermissionStore,
    Record,
    Verdict,
)
from qtui.plugins.trust.policy import PolicyFileError, SitePolicy, load_policy, policy_path
from qtui.plugins.trust.review import GrantedCopies, Review, review
from qtui.plugins.trust.scope import SCOPABLE, Rate, Scope, ScopeError, parse_queues
from qtui.sanitize import one_line

#: `plugin check` found problems (like a linter).
EXIT_PROBLEMS = 1
#: Audit entries `plugin info` shows unless told otherwise.
DEFAULT_AUDIT_ENTRIES = 10

# How a decision summary names each verdict, in the order it lists them.
_SUMMARY_WORDS = {
    Verdict.GRANTED: "granted",
    Verdict.DENIED: "denied",
    Verdict.UNDECIDED: "undecided",
    Verdict.FORBIDDEN: "forbidden by policy",
}

Handler = Callable[[argparse.Namespace], int]


# -- argument parsing ---------------------------------------------------------------------


def _entry_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _time(text: str) -> datetime.datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or a span ago: 30m, 2h, 7d."""
    ago = re.fullmatch(r"([0-9]{1,6})([smhd])", text.strip())
    if ago:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[ago.group(2)]
        return utc_now(SYSTEM_CLOCK) - datetime.timedelta(seconds=int(ago.group(1)) * unit)
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (an ISO 8601 time such as 2024-05-01T12:00, or a span ago: 30m, 2h, 7d)"
        ) from None
    return when.replace(tzinfo=datetime.UTC) if when.tzinfo is None else when


def _capability_name(text: str) -> str:
    try:
        return Capability.parse(text).value
    except UnknownCapability as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _queues(text: str) -> tuple[str, ...]:
    patterns = tuple(p.strip() for p in text.split(","))
    try:
        parse_queues(patterns)
    except ScopeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return patterns


def _rate(text: str) -> Rate | str:
    if text.strip() == "none":
        return "none"
    try:
        return Rate.parse(text)
    except ScopeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def register(
    group: argparse.ArgumentParser,
    *,
    as_json: argparse.ArgumentParser,
    confirm: argparse.ArgumentParser,
    common: argparse.ArgumentParser,
) -> None:
    """Add the actions of the `plugin` command group to its parser, `group`."""
    actions = group.add_subparsers(dest="plugin_command", metavar="ACTION", required=True)

    p = actions.add_parser(
        "list", parents=[as_json], help="installed plugins and their permission decisions",
        description="Every plugin found (user, system, bundled) with the decisions for its "
                    "current version and code, then shadowed, broken and conflicting plugins.",
    )
    p.set_defaults(handler=_reporting(cmd_list))

    p = actions.add_parser(
        "info", parents=[as_json], help="one plugin's manifest, verdicts and audit entries",
        description="The manifest, the code hash, the verdict on each requested capability and "
                    "why, what changed since the last decision, and recent audit entries.",
    )
    p.add_argument("name", metavar="NAME", help="plugin name")
    p.add_argument("--audit", type=_entry_count, default=DEFAULT_AUDIT_ENTRIES, metavar="N",
                   help=f"show the last N audit entries (default {DEFAULT_AUDIT_ENTRIES}; 0: none)")
    p.add_argument("--capability", type=_capability_name, metavar="CAP",
                   help="only audit entries about this capability")
    p.add_argument("--outcome", type=Outcome, choices=list(Outcome), metavar="OUTCOME",
                   help=f"only audit entries with this outcome ({', '.join(Outcome)})")
    p.add_argument("--since", type=_time, metavar="TIME",
                   help="only audit entries at or after TIME (ISO 8601, or a span ago: 30m, 2h, 7d)")
    p.add_argument("--until", type=_time, metavar="TIME", help="only audit entries before TIME")
    p.add_argument("--diff", action="store_true",
                   help="instead, what changed since the code last granted: files, the diff, and the lines "
                        "that use capabilities")
    p.set_defaults(handler=_reporting(cmd_info))

    for verb, handler, summary, description in (
        ("enable", cmd_enable, "start a plugin in every console from now on",
         "Remember plugin NAME as enabled in plugins.toml: every console starts it, running ones "
         "at their next poll of the queue. It still waits for the permission decisions its version needs."),
        ("disable", cmd_disable, "stop a plugin and keep it stopped",
         "Remember plugin NAME as disabled in plugins.toml: running consoles stop it at their "
         "next poll of the queue, and no console starts it."),
    ):
        p = actions.add_parser(verb, parents=[as_json], help=summary, description=description)
        p.add_argument("name", metavar="NAME", help="plugin name")
        p.set_defaults(handler=_reporting(handler))

    p = actions.add_parser(
        "settings", parents=[as_json], help="show or change a plugin's settings",
        description="Without KEY, every setting of plugin NAME with its current value, default and "
                    "what it allows. KEY shows one; KEY=VALUE changes it, validated against the "
                    "manifest's schema as the console's editor does (all or nothing). Running "
                    "consoles give the plugin its new settings at their next poll of the queue.",
    )
    p.add_argument("name", metavar="NAME", help="plugin name")
    p.add_argument("settings", nargs="*", metavar="KEY[=VALUE]", help="a setting to show, or to change")
    p.set_defaults(handler=_reporting(cmd_settings))

    decisions = (
        ("grant", [as_json, confirm], cmd_grant, "allow a plugin capabilities",
         "Allow plugin NAME the capabilities CAP for its current version and code hash, and audit "
         "each. Granting a destructive one asks first (--yes when stdin is not a terminal)."),
        ("revoke", [as_json], cmd_revoke, "deny a plugin capabilities",
         "Deny plugin NAME the capabilities CAP for its current version and code hash (an explicit "
         "denial, kept like a grant), and audit each."),
    )
    for verb, parents, handler, summary, description in decisions:
        p = actions.add_parser(verb, parents=parents, help=summary, description=description)
        p.add_argument("name", metavar="NAME", help="plugin name")
        p.add_argument("capabilities", nargs="*", metavar="CAP", help="capability names")
        p.add_argument("--all", action="store_true", help="every capability the plugin requests")
        if verb == "grant":
            p.add_argument("--queues", type=_queues, metavar="PATTERNS",
                           help="scope the grant to queues matching these comma-separated patterns "
                                "(* ? [abc]; '*' lifts the bound)")
            p.add_argument("--rate", type=_rate, metavar="JOBS/PERIOD",
                           help="at most JOBS jobs per PERIOD, e.g. 500/h or 100/30m ('none' lifts it)")
        p.set_defaults(handler=_reporting(handler))

    p = actions.add_parser(
        "check", parents=[as_json], help="validate a plugin folder without running it",
        description="Validate the manifest, compile every Lua file of the plugin folder DIR and check "
                    "its uses of the plugin API (unknown qtui names, capabilities the manifest does not "
                    "request, deprecated names) without running it; print every problem as "
                    "file:line: message.",
    )
    p.add_argument("dir", metavar="DIR", help="the plugin folder")
    p.set_defaults(handler=_reporting(cmd_check))

    p = actions.add_parser(
        "catalog", parents=[as_json], help="plugins available to install, and the installed versions",
        description="Every plugin the catalog lists (index files in catalogs.toml, then the bundled "
                    "plugins) with the installed version.",
    )
    p.add_argument("--catalog", metavar="INDEX", help="list only this index file")
    p.add_argument("--search", metavar="TEXT",
                   help="only plugins whose name, description or permissions contain TEXT (any case)")
    p.set_defaults(handler=_packaging(cmd_catalog))

    p = actions.add_parser(
        "install", parents=[as_json], help="install a plugin from the catalog, a folder or an archive",
        description="Install plugin NAME from the catalog (checking its sha256), or the plugin in a "
                    "folder or .tar.gz archive, into the user's plugin folder. Grants nothing.",
    )
    p.add_argument("source", metavar="NAME|DIR|ARCHIVE",
                   help="a plugin name (NAME@VERSION for one version), or a path (./NAME for a folder)")
    p.add_argument("--catalog", metavar="INDEX", help="look NAME up in this index file only")
    p.add_argument("--force", action="store_true",
                   help="replace an install of the same or a newer version, or a folder in the way")
    p.set_defaults(handler=_packaging(cmd_install))

    p = actions.add_parser(
        "remove", parents=[as_json, confirm], help="delete a plugin you installed, and every trace of it",
        description="Delete the user's install of plugin NAME (asks first; --yes when stdin is not a "
                    "terminal), and forget it: no longer enabled, its settings, stored data and "
                    "permission decisions gone. The audit log keeps its entries. System and bundled "
                    "plugins cannot be removed.",
    )
    p.add_argument("name", metavar="NAME", help="plugin name")
    p.set_defaults(handler=_packaging(cmd_remove))

    p = actions.add_parser(
        "pack", parents=[as_json], help="write a plugin folder as a reproducible NAME-VERSION.tar.gz",
        description="Validate the plugin in DIR and write its files as NAME-VERSION.tar.gz; print the "
                    "sha256 and an entry for a catalog index file.",
    )
    p.add_argument("dir", metavar="DIR", help="the plugin folder")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="the archive's path, or a folder for it (default: the current folder)")
    p.set_defaults(handler=_packaging(cmd_pack))

    p = actions.add_parser(
        "lock", help="print a lockfile of the installed plugins, their code and decisions",
        description="Print a lockfile (TOML) of every installed plugin: name, version, code hash, the "
                    "decisions for that code (grants with their scopes, denials), its settings and whether "
                    "it is enabled. Apply it on another host with `qtui plugin apply`.",
    )
    p.set_defaults(handler=_reporting(cmd_lock))

    p = actions.add_parser(
        "apply", parents=[as_json], help="install or verify the plugins of a lockfile and apply its decisions",
        description="For each plugin of the lockfile FILE: verify the installed one has the locked code, or "
                    "install that version from the catalog and verify it; then apply its decisions, settings "
                    "and enabled state. A plugin whose code differs is refused: disabled, nothing applied. "
                    f"Exit status {EXIT_REFUSED} if a plugin was refused, {EXIT_USAGE} if the lockfile or an "
                    f"entry of it is invalid, {EXIT_NOT_FOUND} if a plugin was not found, else 0.",
    )
    p.add_argument("file", metavar="FILE", help="the lockfile")
    p.add_argument("--catalog", metavar="INDEX", help="install from this index file only")
    p.set_defaults(handler=_packaging(cmd_apply))

    p = actions.add_parser(
        "dev", parents=[common], help="open the console with a plugin from DIR, reloading it on save",
        description="Open the console with the plugin in DIR loaded (not installed), its log always beside "
                    "its panel, and reload it each time a file in DIR is saved. Only that plugin runs (an "
                    "installed plugin of the same name never does) unless --with-enabled is given. "
                    "Permission decisions carry over between saves while the requested capabilities stay "
                    "the same. Without --db (or $QTUI_DB) it runs on live demo data, as qtui demo does, "
                    "so the panel is fed at once.",
    )
    p.add_argument("dir", metavar="DIR", help="the plugin folder")
    p.add_argument("--refresh", type=float, default=1.0, metavar="SECONDS", help="poll every SECONDS (default 1)")
    p.add_argument("--with-enabled", action="store_true",
                   help="run the enabled plugins too (other than one named as the plugin in DIR)")
    p.set_defaults(handler=cmd_dev)

    spectest.register(actions)
    scaffold.register(actions)


def cmd_dev(args: argparse.Namespace) -> int:
    """The console with one plugin loaded from its own folder, reloaded on every save.

    It runs on the database --db (or $QTUI_DB) names, else on live demo data.
    """
    from qtui.cli.common import open_for_console
    from qtui.cli.demo import running_demo
    from qtui.console.launch import run_console

    folder = Path(args.dir).resolve()
    if not (folder / MANIFEST_FILE).is_file():
        _error(f"{folder}: no {MANIFEST_FILE} here (create one with: qtui plugin new NAME)")
        return EXIT_USAGE
    with contextlib.nullcontext() if args.db else running_demo(None) as demo:
        if demo is not None:
            args.db = str(demo.db)
        run_console(open_for_console(args), refresh=args.refresh, mouse=False, plugins=True, dev=folder,
                    with_enabled=args.with_enabled)
    return EXIT_OK


# -- shared pieces ------------------------------------------------------------------------


def _reporting(handler: Handler) -> Handler:
    """Run `handler`, turning unusable files and failed writes into messages and exit codes."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except PermissionsFileError as e:
            _error_lines(e.problems, "the permission decisions are unreadable; fix or move the file")
            return EXIT_UNAVAILABLE
        except BundleError as e:
            _error_lines(e.problems, "the plugin cannot be used until this is fixed")
            return EXIT_USAGE
        except DecisionError as e:
            _error(str(e))
            return EXIT_USAGE
        except _Unavailable:
            return EXIT_UNAVAILABLE
        except AuditError as e:
            _error(str(e))
            return EXIT_ERROR
        except BrokenPipeError:
            return EXIT_OK  # the reader (head, less) went away; nothing to say
        except OSError as e:
            _error(f"{e.filename}: {e.strerror}" if e.filename else str(e))
            return EXIT_ERROR

    return run


def _error(message: str) -> None:
    print(f"qtui: {one_line(message)}", file=sys.stderr)


def _error_lines(problems: Iterable[Problem], hint: str) -> None:
    for problem in problems:
        _error(str(problem))
    _error(hint)


def _warn(message: str) -> None:
    _error(f"warning: {message}")


def _policy() -> SitePolicy:
    """The site policy; when it is invalid, say so and forbid everything, as the console does."""
    try:
        return load_policy()
    except PolicyFileError as e:
        for problem in e.problems:
            _warn(str(problem))
        _warn("the site policy is invalid: every capability counts as forbidden until it is fixed")
        return SitePolicy.forbidding_everything(policy_path())


def _lookup(discovery: Discovery, name: str) -> Plugin:
    """The installed plugin called `name`, or NotFound saying what is there instead."""
    plugin = discovery.get(name)
    if plugin is not None:
        return plugin
    message = f"no plugin named {name!r}"
    conflict = next((c for c in discovery.conflicts if c.name == name), None)
    if conflict is not None:
        message += f": {conflict}"
    broken = [b for b in discovery.broken if b.folder.name == name]
    if broken:
        problems = "; ".join(str(p) for b in broken for p in b.problems)
        message += f"; a folder of that name is broken: {problems}"
    elif conflict is None:
        installed = ", ".join(p.name for p in discovery.plugins) or "none"
        message += f" (installed: {installed})"
    raise NotFound(one_line(message))


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {"file": str(problem.file), "line": problem.line, "field": problem.field,
            "message": problem.message}


def _names(capabilities: Iterable[Capability]) -> list[str]:
    return [c.value for c in capabilities]


def _summary(verdicts: Sequence[Effective]) -> str:
    """'2 granted, 1 undecided' style summary of the verdicts; '-' when nothing is requested."""
    counts = Counter(v.verdict for v in verdicts)
    parts = [f"{counts[verdict]} {word}" for verdict, word in _SUMMARY_WORDS.items() if counts[verdict]]
    return ", ".join(parts) or "-"


def _reason(effective: Effective) -> str:
    """The verdict's reason, plus whether each use of a granted destructive capability is confirmed."""
    reason = effective.reason
    if effective.allowed and effective.capability.destructive:
        reason += "; asks before each use" if effective.confirm else "; uses are not confirmed"
    return reason


# -- plugin list --------------------------------------------------------------------------


@attrs.frozen
class _Installed:
    """One usable plugin with its code hash (None if the bundle is unreadable), verdicts and status."""

    plugin: Plugin
    code_hash: str | None
    problems: tuple[Problem, ...]
    verdicts: tuple[Effective, ...]
    status: Status


def _enabled_names() -> list[str]:
    """The enabled plugins; an unreadable plugins.toml is a warning (nothing counts as enabled)."""
    try:
        return EnabledStore().load()
    except FileProblems as e:
        for problem in e.problems:
            _warn(str(problem))
        return []


def _status(plugin: Plugin, enabled: Sequence[str], running: Any, settings: SettingsStore) -> Status:
    found = status(plugin, enabled=enabled, running=running, settings=settings)
    for problem in found.problems:
        _warn(str(problem))
    return found


def _installed(discovery: Discovery, policy: SitePolicy) -> list[_Installed]:
    records = PermissionStore().load()  # once, not once per plugin
    enabled, running, settings = _enabled_names(), read_running(), SettingsStore()
    found = []
    for plugin in discovery.plugins:
        state = _status(plugin, enabled, running, settings)
        try:
            code_hash = read_bundle(plugin.folder).hash
        except BundleError as e:
            found.append(_Installed(plugin, None, e.problems, (), state))
            continue
        mine = records.get(plugin.name, ())
        record = next((r for r in mine if r.matches(plugin.manifest, code_hash)), None)
        verdicts = Grants(plugin.manifest, code_hash, record, policy).all()
        found.append(_Installed(plugin, code_hash, (), verdicts, state))
    return found


def _status_json(found: Status) -> dict[str, Any]:
    """The lifecycle fields `list --json` and `info --json` share."""
    origin = found.origin
    return {
        "enabled": found.enabled,
        "state": found.state,
        "state_reason": found.reason,
        "consoles": found.consoles,
        "settings": dict(found.settings),
        "installed_from": None if origin is None else {
            "kind": origin.kind, "location": origin.location, "catalog": origin.catalog,
        },
    }


def cmd_list(args: argparse.Namespace) -> int:
    discovery = discover()
    installed = _installed(discovery, _policy())
    if args.json:
        print(report.to_json(_list_json(discovery, installed)))
    else:
        print(_list_text(discovery, installed))
    return EXIT_OK


def _list_json(discovery: Discovery, installed: Sequence[_Installed]) -> dict[str, Any]:
    def decisions(verdicts: Sequence[Effective]) -> dict[str, list[str]]:
        return {
            verdict.value: [v.capability.value for v in verdicts if v.verdict is verdict]
            for verdict in _SUMMARY_WORDS
        }

    return {
        "plugins": [
            {
                "name": i.plugin.name,
                "version": str(i.plugin.manifest.version),
                "source": i.plugin.source.value,
                "folder": str(i.plugin.folder),
                "api": i.plugin.manifest.api,
                "capabilities": _names(i.plugin.manifest.permissions),
                "code_hash": i.code_hash,
                "decisions": decisions(i.verdicts) if i.code_hash else None,
                "scopes": {v.capability.value: _bounds_json(v) for v in i.verdicts if v.bounds},
                "problems": [_problem_json(p) for p in i.problems],
                **_status_json(i.status),
            }
            for i in installed
        ],
        "shadowed": [
            {"name": s.plugin.name, "version": str(s.plugin.manifest.version),
             "source": s.plugin.source.value, "folder": str(s.plugin.folder), "by": str(s.by)}
            for s in discovery.shadowed
        ],
        "broken": [
            {"folder": str(b.folder), "source": b.source.value,
             "problems": [_problem_json(p) for p in b.problems]}
            for b in discovery.broken
        ],
        "conflicts": [
            {"name": c.name, "source": c.source.value, "folders": [str(f) for f in c.folders]}
            for c in discovery.conflicts
        ],
    }


def _scopes_cell(verdicts: Sequence[Effective]) -> str:
    """'jobs.requeue: email* 500/h' for each bounded grant (every bound), '-' when none is."""
    cells = []
    for verdict in verdicts:
        parts = []
        for bound in verdict.bounds:
            scope = bound.scope
            parts += [*(scope.queues or ()), *([str(scope.rate)] if scope.rate else [])]
        if parts:
            cells.append(f"{verdict.capability}: {' '.join(parts)}")
    return ", ".join(cells) or "-"


def _list_text(discovery: Discovery, installed: Sequence[_Installed]) -> str:
    blocks = []
    if installed:
        rows = [
            [i.plugin.name, str(i.plugin.manifest.version), i.plugin.source.value,
             str(i.plugin.manifest.api), ",".join(_names(i.plugin.manifest.permissions)) or "-",
             _summary(i.verdicts) if i.code_hash else "unusable: see broken",
             one_line(_scopes_cell(i.verdicts)), "yes" if i.status.enabled else "no", i.status.state,
             i.status.installed_from, one_line(str(i.plugin.folder))]
            for i in installed
        ]
        headers = ["NAME", "VERSION", "SOURCE", "API", "CAPABILITIES", "DECISIONS", "SCOPES", "ENABLED", "STATE",
                   "FROM", "FOLDER"]
        blocks.append(report.table(headers, rows))
    else:
        searched = ", ".join(str(folder) for _, folder in plugin_dirs())
        blocks.append(one_line(f"no plugins found (searched {searched})"))
    broken = [p for i in installed for p in i.problems] + [p for b in discovery.broken for p in b.problems]
    for title, lines in (
        ("shadowed", [str(s) for s in discovery.shadowed]),
        ("broken", [str(p) for p in broken]),
        ("conflicts", [str(c) for c in discovery.conflicts]),
    ):
        if lines:
            blocks.append("\n".join([f"{title}:", *(f"  {one_line(line)}" for line in lines)]))
    return "\n\n".join(blocks)


# -- plugin info --------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    discovery = discover()
    plugin = _lookup(discovery, args.name)
    if args.diff:
        return _print_review(args, plugin)
    code_hash = read_bundle(plugin.folder).hash
    store = PermissionStore()
    grants = store.grants(plugin.manifest, code_hash, _policy())
    pending = store.pending(plugin.manifest, code_hash)
    where = AuditFilter(plugin=plugin.name, capability=args.capability, outcome=args.outcome,
                        since=args.since, until=args.until)
    reading = AuditLog().read(where=where, limit=args.audit)
    if reading.unreadable:
        count, first = len(reading.unreadable), reading.unreadable[0]
        _warn(f"{count} audit log line(s) could not be read, the first: {first}")
    shadows = [s for s in discovery.shadowed if s.by == plugin.folder]
    found = _status(plugin, _enabled_names(), read_running(), SettingsStore())
    if args.json:
        print(report.to_json(_info_json(plugin, code_hash, grants, pending, reading.entries, shadows, found)))
    else:
        print(_info_text(plugin, code_hash, grants, pending, reading.entries, shadows, found))
    return EXIT_OK


def _print_review(args: argparse.Namespace, plugin: Plugin) -> int:
    """`plugin info --diff`: the code now against the copy of the code last granted."""
    bundle = read_bundle(plugin.folder)
    try:
        granted = GrantedCopies().load(plugin.name)
    except ValueError as e:
        _warn(str(e))
        granted = None
    result = review(granted, bundle, gated_functions())
    if args.json:
        print(report.to_json(_review_json(plugin, bundle.hash, result)))
    else:
        print(_review_text(plugin, bundle.hash, result))
    return EXIT_OK


def _review_json(plugin: Plugin, code_hash: str, result: Review) -> dict[str, Any]:
    granted = result.granted
    return {
        "name": plugin.name,
        "version": str(plugin.manifest.version),
        "code_hash": code_hash,
        "granted": None if granted is None else {"version": granted.version, "hash": granted.hash},
        "files": [{"path": c.path, "status": c.status, "added": c.added, "removed": c.removed}
                  for c in result.changes],
        "diff": list(result.diff),
        "calls": [{"capability": c.gate, "function": c.function, "file": c.path, "line": c.line,
                   "text": c.text, "changed": c.changed} for c in result.calls],
    }


def _review_text(plugin: Plugin, code_hash: str, result: Review) -> str:
    granted = result.granted
    now = f"{plugin.name} {plugin.manifest.version} ({code_hash[:23]})"
    if granted is None:
        blocks = [f"{now}: no copy of granted code is kept (one is kept at each grant); all of it is new"]
    elif granted.hash == code_hash:
        blocks = [f"{now}: the same code as last granted"]
    else:
        blocks = [f"{now} against the code granted for {granted.version} ({granted.hash[:23]})"]
    if result.changes:
        blocks.append("files:\n" + "\n".join(f"  {one_line(str(c))}" for c in result.changes))
    gates: dict[str, list[str]] = {}
    for call in result.calls:
        mark = "+ " if call.changed else "  "
        gates.setdefault(call.gate, []).append(f"  {mark}{one_line(str(call))}")
    if gates:
        blocks.append("lines that use capabilities (+ changed):\n" + "\n".join(
            f"{gate}:\n" + "\n".join(lines) for gate, lines in sorted(gates.items())))
    if result.diff:
        blocks.append("\n".join(one_line(line) for line in result.diff))
    return "\n\n".join(blocks)


def _effective_json(effective: Effective) -> dict[str, Any]:
    capability = effective.capability
    return {
        "name": capability.value,
        "description": capability.description,
        "risk": capability.risk.value,
        "destructive": capability.destructive,
        "verdict": effective.verdict.value,
        "reason": effective.reason,
        "confirm_each_use": effective.confirm,
        "bounds": _bounds_json(effective),
    }


def _pending_json(pending: Pending) -> dict[str, Any]:
    previous = pending.previous
    return {
        "undecided": _names(pending.undecided),
        "previous": None if previous is None else {
            "version": previous.version,
            "hash": previous.hash,
            "decided_at": previous.decided_at.isoformat(),
            "requested": sorted(_names(previous.requested)),
            "granted": sorted(_names(previous.granted)),
            "denied": sorted(_names(previous.denied)),
        },
        "added": _names(pending.added),
        "removed": _names(pending.removed),
        "code_changed": pending.code_changed,
        "is_upgrade": pending.is_upgrade,
    }


def _audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {"time": entry.time.isoformat(), "version": entry.version, "capability": entry.capability,
            "request": entry.request, "outcome": entry.outcome.value, "reason": entry.reason,
            "jobs": entry.jobs, "detail": entry.detail}


def _info_json(
    plugin: Plugin, code_hash: str, grants: Grants, pending: Pending,
    audit: Sequence[AuditEntry], shadows: Sequence[Shadowed], found: Status,
) -> dict[str, Any]:
    return {
        "name": plugin.name,
        "version": str(plugin.manifest.version),
        "source": plugin.source.value,
        "folder": str(plugin.folder),
        **_status_json(found),
        "code_hash": code_hash,
        "manifest": plugin.manifest.to_toml(),
        "capabilities": [_effective_json(e) for e in grants.all()],
        "pending": _pending_json(pending),
        "audit": [_audit_json(e) for e in audit],
        "shadows": [{"folder": str(s.plugin.folder), "source": s.plugin.source.value,
                     "version": str(s.plugin.manifest.version)} for s in shadows],
    }


def _fields(pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(key) for key, _ in pairs) + 1
    return [f"{(key + ':').ljust(width)} {value}" for key, value in pairs]


def _setting_range(setting: Setting) -> str:
    if setting.type is SettingType.CHOICE:
        return "one of " + ", ".join(setting.choices)
    bounds = []
    if setting.minimum is not None:
        bounds.append(f"min {setting.minimum}")
    if setting.maximum is not None:
        bounds.append(f"max {setting.maximum}")
    return ", ".join(bounds) or "-"


def _state_text(found: Status) -> str:
    if found.consoles == 0:
        return "stopped (no console runs it)"
    consoles = f"in {found.consoles} console{'s' if found.consoles != 1 else ''}"
    return one_line(f"{found.state} {consoles}" + (f": {found.reason}" if found.reason else ""))


def _info_text(
    plugin: Plugin, code_hash: str, grants: Grants, pending: Pending,
    audit: Sequence[AuditEntry], shadows: Sequence[Shadowed], found: Status,
) -> str:
    manifest = plugin.manifest
    limits = manifest.limits
    pairs = [
        ("plugin", f"{manifest.name} {manifest.version}"),
        ("description", one_line(manifest.description)),
        ("author", one_line(manifest.author) or "-"),
        ("source", one_line(f"{plugin.source} ({plugin.folder})")),
        ("from", one_line(str(found.origin)) if found.origin else "-"),
        ("enabled", "yes" if found.enabled else "no"),
        ("state", _state_text(found)),
        ("api", f"{manifest.api} (this qtui implements {HOST_API_VERSION})"),
        ("entry", one_line(manifest.entry)),
        ("code hash", code_hash),
        ("limits", f"{limits.memory_mib} MiB memory, {limits.instructions_per_call} instructions "
                   f"and {limits.cpu_ms_per_call} ms of CPU per call"),
    ]
    panel = manifest.panel
    if panel is None:
        pairs.append(("panel", "none"))
    else:
        size = [f"{panel.rows} rows" if panel.rows else "", f"{panel.width} columns" if panel.width else ""]
        shown = ", ".join([repr(panel.title), *filter(None, size), panel.placement])
        pairs.append(("panel", one_line(shown)))
    pairs += [("shadows", one_line(f"{s.plugin.folder} ({s.plugin.source} {s.plugin.manifest.version})"))
              for s in shadows]
    blocks = ["\n".join(_fields(pairs))]
    if manifest.settings:
        blocks.append("settings:\n" + _indent(_settings_table(manifest, found.settings)))
    verdicts = grants.all()
    if verdicts:
        rows = [[e.capability.value, e.capability.risk.value, "yes" if e.capability.destructive else "no",
                 e.verdict.value, one_line(_reason(e)), one_line(_bounds(e)), e.capability.description]
                for e in verdicts]
        headers = ["CAPABILITY", "RISK", "DESTRUCTIVE", "VERDICT", "REASON", "SCOPE", "ALLOWS"]
        blocks.append("capabilities:\n" + _indent(report.table(headers, rows)))
    else:
        blocks.append("capabilities: none requested")
    blocks.append("pending:\n" + _indent("\n".join(_pending_lines(pending))))
    if audit:
        rows = [[fmt.timestamp(e.time.timestamp()), one_line(e.version), one_line(e.capability),
                 one_line(e.request) or "-", e.outcome.value + (f" ({one_line(e.reason)})" if e.reason else ""),
                 "-" if e.jobs is None else str(e.jobs), one_line(e.detail)] for e in audit]
        table = report.table(["TIME", "VERSION", "CAPABILITY", "REQUEST", "OUTCOME", "JOBS", "DETAIL"], rows)
        blocks.append(f"audit (last {len(audit)}):\n" + _indent(table))
    else:
        blocks.append("audit: no entries")
    return "\n\n".join(blocks)


def _settings_table(manifest: Manifest, values: Mapping[str, Any]) -> str:
    rows = [[s.name, s.type.value, one_line(repr(values[s.name])), one_line(repr(s.default)),
             one_line(_setting_range(s)), one_line(s.description)] for s in manifest.settings]
    return report.table(["NAME", "TYPE", "VALUE", "DEFAULT", "ALLOWED", "DESCRIPTION"], rows)


def _bounds(effective: Effective) -> str:
    """The bounds on a granted capability in words, '-' when there are none."""
    return "; ".join(str(b) for b in effective.bounds) or "-"


def _pending_lines(pending: Pending) -> list[str]:
    lines = [f"undecided: {', '.join(_names(pending.undecided)) or 'nothing'}"]
    previous = pending.previous
    if previous is None:
        return lines
    day = previous.decided_at.date().isoformat()
    if pending.code_changed:
        change = f"the code changed since the decision for {previous.version} on {day}"
    else:
        kind = {True: "an upgrade", False: "a downgrade", None: "a change"}[pending.is_upgrade]
        change = f"{kind} from {previous.version}, decided on {day}"
    lines.append(change)
    if pending.added:
        lines.append(f"newly requested: {', '.join(_names(pending.added))}")
    if pending.removed:
        lines.append(f"no longer requested: {', '.join(_names(pending.removed))}")
    return lines


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


# -- plugin enable / disable / settings ---------------------------------------------------


def _enabled_store() -> EnabledStore:
    """plugins.toml, readable: an unreadable one is reported (exit 3) rather than rewritten."""
    store = EnabledStore()
    try:
        store.load()
    except FileProblems as e:
        _error_lines(e.problems, "the enabled plugins are unreadable; fix or move the file")
        raise _Unavailable from None
    return store


class _Unavailable(Exception):
    """A file the command needs is unreadable; its problems were printed."""


def cmd_enable(args: argparse.Namespace) -> int:
    plugin = _lookup(discover(), args.name)
    store = _enabled_store()
    was = plugin.name in store.load()
    store.set(plugin.name, True)
    pending = PermissionStore().pending(plugin.manifest, read_bundle(plugin.folder).hash)
    undecided = _names(pending.undecided)
    if args.json:
        print(report.to_json({"name": plugin.name, "enabled": True, "changed": not was, "undecided": undecided}))
        return EXIT_OK
    print(f"{plugin.name} {'was already' if was else 'is now'} enabled; every console starts it")
    if undecided:
        print(f"it waits for a decision on {', '.join(undecided)}: qtui plugin grant {plugin.name} --all, "
              "or answer the console's prompt")
    return EXIT_OK


def cmd_disable(args: argparse.Namespace) -> int:
    store = _enabled_store()
    was = args.name in store.load()
    if not was:
        _lookup(discover(), args.name)  # says so when there is no such plugin at all
    store.set(args.name, False)
    if args.json:
        print(report.to_json({"name": args.name, "enabled": False, "changed": was}))
    elif was:
        print(f"{args.name} is now disabled; running consoles stop it")
    else:
        print(f"{args.name} was not enabled")
    return EXIT_OK


def _show_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return one_line(str(value))


def cmd_settings(args: argparse.Namespace) -> int:
    plugin = _lookup(discover(), args.name)
    manifest = plugin.manifest
    store = SettingsStore()
    try:
        changes = assignments(manifest, [item for item in args.settings if "=" in item])
        shown = [item.partition("=")[0] for item in args.settings]
        for key in shown:
            if manifest.setting(key) is None:
                raise ValueError(f"{key}: {manifest.name} has no such setting ({declared_settings(manifest)})")
        if changes:
            store.save(manifest, changes)
    except ValueError as e:
        raise InvalidInput(str(e)) from None
    values, problems = store.values(manifest)
    for problem in problems:
        _warn(str(problem))
    if args.json:
        print(report.to_json({
            "name": manifest.name,
            "changed": sorted(changes),
            "settings": {
                s.name: {"value": values[s.name], "default": s.default, "type": s.type.value,
                         "allowed": _setting_range(s), "description": s.description}
                for s in manifest.settings
            },
        }))
    elif shown:
        for key in dict.fromkeys(shown):
            print(f"{key}={_show_value(values[key])}")
    elif manifest.settings:
        print(_settings_table(manifest, values))
    else:
        print(f"{manifest.name} has no settings")
    return EXIT_OK


# -- plugin grant / revoke ----------------------------------------------------------------


def _chosen(args: argparse.Namespace, manifest: Manifest) -> tuple[Capability, ...]:
    """The requested capabilities named on the command line (or all of them with --all)."""
    if args.all and args.capabilities:
        raise InvalidInput("give capability names or --all, not both")
    if not args.all and not args.capabilities:
        raise InvalidInput("say which capabilities: their names, or --all")
    requested = manifest.permissions
    listing = f"it requests: {', '.join(_names(requested))}" if requested else "it requests none"
    if args.all:
        if not requested:
            raise InvalidInput(f"{manifest.name} {listing}")
        return requested
    chosen: list[Capability] = []
    for name in args.capabilities:
        try:
            capability = Capability.parse(name)
        except UnknownCapability as e:
            raise InvalidInput(one_line(str(e))) from None
        if capability not in requested:
            raise InvalidInput(f"{manifest.name} does not request {capability}; {listing}")
        if capability not in chosen:
            chosen.append(capability)
    return tuple(chosen)


def _target(args: argparse.Namespace) -> tuple[Manifest, tuple[Capability, ...], Bundle]:
    """The named plugin's manifest, the capabilities to decide on, and its current code."""
    plugin = _lookup(discover(), args.name)
    chosen = _chosen(args, plugin.manifest)
    return plugin.manifest, chosen, read_bundle(plugin.folder)


def _audit(manifest: Manifest, code_hash: str, chosen: Sequence[Capability], outcome: Outcome,
           command: str, scopes: Mapping[Capability, Scope] | None = None) -> None:
    log = AuditLog()
    try:
        for capability in chosen:
            scope = (scopes or {}).get(capability)
            bound = f"; {scope}" if scope is not None else ""
            log.record(manifest.name, str(manifest.version), capability.value, outcome,
                       f"{command}; code {code_hash[:23]}{bound}")
    except AuditError as e:
        raise AuditError(f"{e}; the decision was recorded") from None


def _print_decision(
    args: argparse.Namespace, manifest: Manifest, code_hash: str, chosen: Sequence[Capability],
    record: Record, overruled: Sequence[Capability], done: str,
) -> None:
    if args.json:
        print(report.to_json({
            "plugin": manifest.name,
            "version": str(manifest.version),
            "code_hash": code_hash,
            "changed": _names(chosen),
            "granted": sorted(_names(record.granted)),
            "denied": sorted(_names(record.denied)),
            "scopes": {c.value: _scope_json(s) for c, s in sorted(record.scopes.items())},
            "forbidden_by_policy": _names(overruled),
        }))
    else:
        scoped = [f"{c} ({record.scopes[c]})" if c in record.scopes else c.value for c in chosen]
        print(f"{manifest.name} {manifest.version}: {done} {', '.join(scoped)}")


def _bounds_json(effective: Effective) -> list[dict[str, Any]]:
    """Each bound on a capability: its queues, its rate and who set it."""
    return [{**_scope_json(b.scope), "source": b.source} for b in effective.bounds]


def _scope_json(scope: Scope) -> dict[str, Any]:
    return {"queues": None if scope.queues is None else list(scope.queues),
            "rate": None if scope.rate is None else str(scope.rate)}


def _scopes(args: argparse.Namespace, store: PermissionStore, manifest: Manifest, code_hash: str,
            chosen: Sequence[Capability]) -> dict[Capability, Scope]:
    """The scopes --queues and --rate set on the chosen capabilities (each other part kept)."""
    if args.queues is None and args.rate is None:
        return {}
    unscopable = [c for c in chosen if c not in SCOPABLE]
    if unscopable:
        raise InvalidInput(f"{', '.join(unscopable)} cannot be scoped (only {', '.join(SCOPABLE)})")
    records = store.records(manifest.name)
    base = next((r for r in records if r.matches(manifest, code_hash)), records[-1] if records else None)
    scopes = {}
    for capability in chosen:
        old = (base.scopes.get(capability) if base else None) or Scope()
        queues = parse_queues(args.queues) if args.queues is not None else old.queues
        rate = old.rate if args.rate is None else (None if args.rate == "none" else args.rate)
        scopes[capability] = Scope(queues, rate)
    return scopes


def cmd_grant(args: argparse.Namespace) -> int:
    manifest, chosen, bundle = _target(args)
    code_hash = bundle.hash
    store = PermissionStore()
    scopes = _scopes(args, store, manifest, code_hash, chosen)
    destructive = [c for c in chosen if c.destructive]
    if destructive:
        listed = "; ".join(f"{c} ({c.description}" + (f"; {scopes[c]}" if c in scopes else "") + ")"
                           for c in destructive)
        confirm_or_refuse(args, f"Grant destructive {listed} to {manifest.name} {manifest.version}?")
    record = store.decide(manifest, code_hash, grant=chosen, scopes=scopes)
    _audit(manifest, code_hash, chosen, Outcome.GRANTED, "qtui plugin grant", record.scopes)
    try:  # to show what changes in the code later
        GrantedCopies().keep(manifest.name, str(manifest.version), bundle)
    except OSError as e:
        _warn(f"no copy of the granted code kept: {e.filename or ''}: {e.strerror or e}")
    policy = _policy()
    overruled = [c for c in chosen if policy.forbids(manifest.name, c)]
    for capability in overruled:
        _warn(f"{capability} stays forbidden for {manifest.name} by the site policy ({policy.path})")
    _print_decision(args, manifest, code_hash, chosen, record, overruled, "granted")
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    manifest, chosen, bundle = _target(args)
    code_hash = bundle.hash
    record = PermissionStore().decide(manifest, code_hash, deny=chosen)
    _audit(manifest, code_hash, chosen, Outcome.REVOKED, "qtui plugin revoke")
    _print_decision(args, manifest, code_hash, chosen, record, (), "denied")
    return EXIT_OK


def cmd_lock(args: argparse.Namespace) -> int:
    discovery = discover()
    for broken in discovery.broken:
        for problem in broken.problems:
            _warn(f"not locked: {problem}")
    print(lockfile.lock_text(lockfile.make_lock(discovery)), end="")
    return EXIT_OK


#: The exit status of `plugin apply` for each result, worst first.
_APPLY_EXITS = ((lockfile.Status.REFUSED, EXIT_REFUSED), (lockfile.Status.INVALID, EXIT_USAGE),
                (lockfile.Status.MISSING, EXIT_NOT_FOUND))


def cmd_apply(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        plugins = lockfile.read_lock(path)
    except lockfile.LockFileError as e:
        _error_lines(e.problems, "nothing was applied")
        return EXIT_USAGE
    results = lockfile.apply_lock(plugins, listing=_listing(args), source=str(path))
    if args.json:
        print(report.to_json({"results": [{"name": r.name, "version": r.version, "status": r.status.value,
                                           "message": r.message} for r in results]}))
    elif results:
        print(report.table(["NAME", "VERSION", "RESULT", "DETAIL"],
                           [[r.name, r.version, r.status.value, one_line(r.message)] for r in results]))
    else:
        print("the lockfile names no plugins")
    statuses = {r.status for r in results}
    return next((code for status, code in _APPLY_EXITS if status in statuses), EXIT_OK)


def cmd_check(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise InvalidInput(f"{args.dir}: not a folder")
    result = check_folder(folder)
    manifest = result.manifest
    findings = lint.Findings()
    if result.code_hash is not None:  # the files could be read: check the Lua against the API
        findings = lint.lint_files(read_bundle(folder).files, folder, manifest)
    problems = [*result.problems, *findings.errors]
    if args.json:
        print(report.to_json({
            "ok": not problems,
            "name": manifest.name if manifest else None,
            "version": str(manifest.version) if manifest else None,
            "code_hash": result.code_hash,
            "problems": [_problem_json(p) for p in problems],
            "warnings": [_problem_json(p) for p in findings.warnings],
        }))
        return EXIT_PROBLEMS if problems else EXIT_OK
    for problem in problems:
        print(one_line(str(problem)))
    for warning in findings.warnings:
        print(one_line(f"{warning.file}:{warning.line}: warning: {warning.message}"))
    if problems:
        count = len(problems)
        _error(f"{count} problem{'s' if count != 1 else ''} in {folder}")
        return EXIT_PROBLEMS
    assert manifest is not None
    warned = len(findings.warnings)
    print(f"ok: {manifest.name} {manifest.version}" + (f" ({warned} warning{'s' if warned != 1 else ''})"
                                                       if warned else ""))
    return EXIT_OK


# -- plugin catalog / install / remove / pack ---------------------------------------------

_PACKAGE_EXITS: Sequence[tuple[type[catalog.PackageError], int]] = (
    (catalog.NotAvailable, EXIT_NOT_FOUND),
    (catalog.DownloadError, EXIT_UNAVAILABLE),
    (catalog.ReplaceRefused, EXIT_REFUSED),
    (catalog.PackageError, EXIT_USAGE),
)


def _packaging(handler: Handler) -> Handler:
    """:func:`_reporting`, plus an unusable catalog and refused installs, removals and packs."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except catalog.CatalogError as e:
            _error_lines(e.problems, "the plugin catalog cannot be used until this is fixed")
            return EXIT_USAGE
        except catalog.PackageError as e:
            for problem in e.problems:
                _error(str(problem))
            _error(str(e))
            return next(code for kind, code in _PACKAGE_EXITS if isinstance(e, kind))

    return _reporting(run)


def _listing(args: argparse.Namespace) -> catalog.Catalog:
    """The catalog (of --catalog INDEX only, if given), warning about unusable sources."""
    listing = catalog.load_catalog([Path(args.catalog)] if args.catalog else None)
    for problem in listing.problems:
        _warn(str(problem))
    return listing


def cmd_catalog(args: argparse.Namespace) -> int:
    listing = _listing(args)
    found = discover()
    rows = []
    entries = listing.search(args.search) if args.search else listing.entries
    for entry in sorted(entries, key=lambda e: e.name):
        plugin = found.get(entry.name)
        rows.append((entry, plugin, _catalog_status(entry, plugin)))
    if args.json:
        print(report.to_json({
            "plugins": [
                {
                    "name": e.name,
                    "version": str(e.version),
                    "description": e.description,
                    "permissions": _names(e.permissions),
                    "catalog": e.catalog,
                    "location": e.location,
                    "sha256": e.origin.sha256 if isinstance(e.origin, catalog.ArchiveLocation) else None,
                    "code_hash": e.origin.code_hash if isinstance(e.origin, catalog.FolderLocation) else None,
                    "installed": None if p is None else {
                        "version": str(p.manifest.version), "source": p.source.value, "folder": str(p.folder),
                    },
                    "status": status,
                }
                for e, p, status in rows
            ],
            "problems": [_problem_json(p) for p in listing.problems],
        }))
    elif rows:
        table = [
            [e.name, str(e.version), status, f"{p.manifest.version} ({p.source})" if p else "-",
             ",".join(_names(e.permissions)) or "-", one_line(e.catalog), one_line(e.description, 60)]
            for e, p, status in rows
        ]
        headers = ["NAME", "VERSION", "STATUS", "INSTALLED", "PERMISSIONS", "CATALOG", "DESCRIPTION"]
        print(report.table(headers, table))
    elif args.search and listing.entries:
        print(one_line(f"no plugin in the catalog matches {args.search!r} "
                       f"(searched {len(listing.entries)} entries: names, descriptions, permissions)"))
        return EXIT_NOT_FOUND
    else:
        configs = " or ".join(str(c) for c in catalog.catalogs_paths())
        print(one_line(f"the catalog is empty (list index files in {configs})"))
    return EXIT_OK


def _catalog_status(entry: catalog.Entry, plugin: Plugin | None) -> str:
    """'available', 'installed', 'upgrade' (newer than installed) or 'older' (than installed)."""
    if plugin is None:
        return "available"
    if entry.version > plugin.manifest.version:
        return "upgrade"
    if entry.version < plugin.manifest.version:
        return "older"
    return "installed"


def cmd_install(args: argparse.Namespace) -> int:
    listing = None
    if catalog.is_plugin_name(args.source):
        listing = _listing(args)
    elif args.catalog:
        raise InvalidInput("--catalog is for installing by name, not from a folder or archive")
    installed = catalog.install(catalog.resolve(args.source, listing), force=args.force)
    manifest = installed.manifest
    if args.json:
        print(report.to_json({
            "name": manifest.name,
            "version": str(manifest.version),
            "folder": str(installed.folder),
            "code_hash": installed.code_hash,
            "sha256": installed.sha256,
            "changed": installed.changed,
            "replaced": None if installed.replaced is None else str(installed.replaced),
            "permissions": _names(manifest.permissions),
        }))
        return EXIT_OK
    if not installed.changed:
        print(f"{manifest.name} {manifest.version} is already installed in {installed.folder}")
        return EXIT_OK
    old = installed.replaced
    if old is None:
        done = f"installed {manifest.name} {manifest.version}"
    elif old < manifest.version:
        done = f"upgraded {manifest.name} from {old} to {manifest.version}"
    else:
        done = f"replaced {manifest.name} {old} with {manifest.version}"
    print(f"{done} in {installed.folder}")
    if installed.sha256:
        print(f"sha256 {installed.sha256}")
    wants = ", ".join(_names(manifest.permissions))
    print(f"it asks for {wants} when the console starts it" if wants else "it requests no permissions")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    folders = catalog.installed_folders(args.name)
    confirm_or_refuse(args, f"Delete {' and '.join(str(f) for f in folders)}?")
    removed = catalog.remove(args.name)
    forgotten = forget(args.name)
    now = removed.now_used
    if args.json:
        print(report.to_json({
            "name": removed.name,
            "version": None if removed.version is None else str(removed.version),
            "folders": [str(f) for f in removed.folders],
            "forgotten": {"enabled": forgotten.enabled, "settings": forgotten.settings,
                          "storage": forgotten.storage, "decision_records": forgotten.decisions},
            "now_used": None if now is None else {
                "version": str(now.manifest.version), "source": now.source.value, "folder": str(now.folder),
            },
        }))
        return EXIT_OK
    version = f" {removed.version}" if removed.version else ""
    print(f"removed {removed.name}{version} ({', '.join(str(f) for f in removed.folders)})")
    cleared = forgotten.describe()
    print(f"forgot its {', '.join(cleared)}" if cleared else "nothing else to forget")
    if now is not None:
        print(f"the {now.source} {now.name} {now.manifest.version} in {now.folder} is used from now on")
    return EXIT_OK


def cmd_pack(args: argparse.Namespace) -> int:
    packed = catalog.pack(Path(args.dir), Path(args.output) if args.output else None)
    if args.json:
        print(report.to_json({
            "name": packed.manifest.name,
            "version": str(packed.manifest.version),
            "archive": str(packed.path),
            "sha256": packed.sha256,
            "index_entry": packed.index_entry(),
        }))
    else:
        print(f"wrote {packed.path}\nsha256 {packed.sha256}\n")
        print("# for a catalog index file in the archive's folder:")
        print(packed.index_entry(), end="")
    return EXIT_OK
