"""The options of `qtest.load{...}` in a spec, checked into attrs classes.

Specs are Lua, so every value arrives as plain data and is checked here; a bad option raises
HostError naming it (the spec sees a Lua error at the line that called qtest.load).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from qtui.model import InvalidInput, JobState, check_queue_name
from qtui.plugins.bundles.capabilities import Capability, known_names
from qtui.plugins.runtime.sandbox import HostError

#: Options naming the plugin and the decisions about it (qtest.load and plugin:add).
PLUGIN_OPTIONS = frozenset({
    "plugin", "source", "files", "name", "version", "api", "manifest",
    "grant", "deny", "undecided", "no_confirm", "settings",
})
#: Options of the console itself (qtest.load only).
CONSOLE_OPTIONS = frozenset({"jobs", "confirm", "forbid", "recording"})
#: Options of plugin:reload.
RELOAD_OPTIONS = frozenset({"source", "files"})

DEFAULT_NAME = "spec-plugin"
DEFAULT_VERSION = "1.0.0"
DEFAULT_API = "1"
_FIXTURE_FIELDS = frozenset({"queue", "state", "payload", "error", "priority"})


@attrs.frozen
class PluginOptions:
    """Which plugin to start and what the operator decided about it."""

    folder: Path | None  # an existing plugin folder, or None for an inline plugin
    source: str | None  # inline: the entry file init.lua
    files: Mapping[str, str]  # inline: more files, relative path -> text
    name: str
    version: str
    api: Any
    manifest: str  # inline: TOML appended to the generated manifest
    grant: tuple[Capability, ...] | None  # None: the default (see qtest.load)
    deny: tuple[Capability, ...]
    undecided: tuple[Capability, ...]
    no_confirm: tuple[Capability, ...]
    settings: Mapping[str, Any]


@attrs.frozen
class JobFixture:
    """One job of the scripted queue."""

    queue: str
    state: JobState
    payload: Any  # a table, or JSON text
    error: str | None
    priority: int


@attrs.frozen
class ConsoleOptions:
    jobs: tuple[JobFixture, ...]
    confirm: bool | None  # the operator's answer to confirmations; None: nobody to ask
    forbid: tuple[Capability, ...]  # the site policy
    recording: str | None = None  # a recording whose jobs fill the queue too and p:replay() feeds


def _table(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, list) and not value:
        return {}
    if not isinstance(value, dict):
        raise HostError(f"{what} must be a table of named options")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None or value == {}:
        return []
    if not isinstance(value, list):
        raise HostError(f"{what} must be a list")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise HostError(f"{what} must be a string, not {_lua_type(value)}")
    return value


def _lua_type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a table"


def _capabilities(value: Any, what: str) -> tuple[Capability, ...]:
    found = []
    for item in _list(value, what):
        try:
            found.append(Capability(item))
        except ValueError:
            raise HostError(f"{what}: unknown capability {item!r} (known: {known_names()})") from None
    return tuple(dict.fromkeys(found))


def _check_unknown(options: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise HostError(f"{what}: unknown option {unknown[0]!r} (options: {', '.join(sorted(allowed))})")


def _files(value: Any) -> dict[str, str]:
    files = {}
    for relative, text in _table(value, "files").items():
        path = PurePosixPath(relative)
        if path.is_absolute() or ".." in path.parts or "\\" in relative or not path.parts:
            raise HostError(f"files: {relative!r} must be a relative path inside the plugin, without '..'")
        files[str(path)] = _text(text, f"files[{relative!r}]")
    return files


def plugin_options(options: Mapping[str, Any], base: Path, under_test: Path | None,
                   what: str, *, allowed: frozenset[str] = PLUGIN_OPTIONS) -> PluginOptions:
    """Check the plugin options; `base` resolves relative `plugin` paths."""
    _check_unknown(options, allowed, what)
    source = options.get("source")
    folder: Path | None = None
    if source is not None:
        source = _text(source, "source")
        if "plugin" in options:
            raise HostError(f"{what}: give source= (an inline plugin) or plugin= (a folder), not both")
    elif "plugin" in options:
        folder = (base / _text(options["plugin"], "plugin")).resolve()
    elif under_test is not None:
        folder = under_test
    else:
        raise HostError(f"{what}: no plugin under test here; give source = [[...]] or plugin = 'folder'")
    if folder is not None:
        inline_only = sorted(set(options) & {"files", "name", "version", "api", "manifest"})
        if inline_only:
            raise HostError(f"{what}: {inline_only[0]} is for inline plugins (source=), not plugin folders")
    settings = _table(options.get("settings", {}), "settings")
    return PluginOptions(
        folder=folder,
        source=source,
        files=_files(options.get("files", {})),
        name=_text(options.get("name", DEFAULT_NAME), "name"),
        version=_text(options.get("version", DEFAULT_VERSION), "version"),
        api=options.get("api", DEFAULT_API),
        manifest=_text(options.get("manifest", ""), "manifest"),
        grant=_capabilities(options["grant"], "grant") if "grant" in options else None,
        deny=_capabilities(options.get("deny"), "deny"),
        undecided=_capabilities(options.get("undecided"), "undecided"),
        no_confirm=_capabilities(options.get("no_confirm"), "no_confirm"),
        settings=settings,
    )


def reload_options(options: Any, current: PluginOptions) -> PluginOptions:
    """plugin:reload's options (new source, more files) applied to the plugin's current ones."""
    options = _table(options, "reload")
    _check_unknown(options, RELOAD_OPTIONS, "reload")
    if options and current.folder is not None:
        raise HostError("reload: source and files are for inline plugins (source=)")
    source = _text(options["source"], "source") if "source" in options else current.source
    return attrs.evolve(current, source=source, files={**current.files, **_files(options.get("files", {}))})


def _fixture(index: int, value: Any) -> JobFixture:
    where = f"jobs[{index}]"
    job = _table(value, where)
    _check_unknown(job, _FIXTURE_FIELDS, where)
    try:
        queue = check_queue_name(_text(job.get("queue"), f"{where}.queue"))
        state = JobState.parse(_text(job.get("state", "ready"), f"{where}.state"))
    except InvalidInput as exc:
        raise HostError(f"{where}: {exc}") from None
    priority = job.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise HostError(f"{where}.priority must be a whole number")
    error = job.get("error")
    if error is not None:
        error = _text(error, f"{where}.error")
        if state is not JobState.DEAD:
            raise HostError(f"{where}.error: only dead jobs have an error here")
    return JobFixture(queue, state, job.get("payload", {}), error, priority)


def console_options(options: Mapping[str, Any]) -> ConsoleOptions:
    confirm = options.get("confirm")
    if confirm is not None and not isinstance(confirm, bool):
        raise HostError("confirm must be true (the operator confirms), false (declines) or nil (nobody asked)")
    recording = options.get("recording")
    return ConsoleOptions(
        jobs=tuple(_fixture(n, job) for n, job in enumerate(_list(options.get("jobs"), "jobs"), 1)),
        confirm=confirm,
        forbid=_capabilities(options.get("forbid"), "forbid"),
        recording=None if recording is None else _text(recording, "recording"),
    )


def recorded_fixtures(jobs: tuple[dict[str, Any], ...]) -> tuple[JobFixture, ...]:
    """The jobs of a recording as fixtures of the scripted queue (their ages are not kept).

    A payload that is not JSON text (or was redacted) is kept as a JSON string.
    """
    fixtures = []
    for job in jobs:
        try:
            queue = check_queue_name(job["queue"])
            state = JobState.parse(job["state"])
        except InvalidInput:
            continue  # the recording's backend had names this queue does not take
        payload = job.get("payload") if isinstance(job.get("payload"), str) else ""
        try:
            json.loads(payload)
        except ValueError:
            payload = json.dumps(payload)
        priority = job.get("priority") if isinstance(job.get("priority"), int) else 0
        error = job.get("last_error") if state is JobState.DEAD and isinstance(job.get("last_error"), str) else None
        fixtures.append(JobFixture(queue, state, payload, error, priority))
    return tuple(fixtures)


def split(options: Any, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """qtest.load's options as (plugin options, console options)."""
    options = _table(options, what)
    _check_unknown(options, PLUGIN_OPTIONS | CONSOLE_OPTIONS, what)
    plugin = {k: v for k, v in options.items() if k in PLUGIN_OPTIONS}
    console = {k: v for k, v in options.items() if k in CONSOLE_OPTIONS}
    return plugin, console
