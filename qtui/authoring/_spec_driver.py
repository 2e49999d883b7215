"""The `qtest` driver behind spec files: plugins in a real host on a scripted SQLite queue.

Each `qtest.load{...}` builds a *console*: a temporary folder holding a SQLite queue filled
from the spec's job fixtures, an event bus, and a PluginHost with its own permission
decisions, site policy, audit log, settings and storage, running in the spec runner's trio
nursery. Nothing is simulated: plugins run in their sandboxes, requests reach the queue,
destructive ones are confirmed (or not) and everything is audited, as in the console.

The functions a spec calls (exposed to Lua as `_qtest.*`, wrapped by _spec_prelude.lua) run
in the spec's own thread and reach trio with `trio.from_thread.run`. Each returns once the
console is idle again (no plugin or backend call in flight, every event handled), so specs
never wait or sleep. The trio run's clock is virtual and moves only on `qtest.advance`, so
plugin timers fire exactly when a spec says, and the plugins' now (`os.time`, timer events)
moves with it; call deadlines stay on the machine's monotonic clock.
"""

from __future__ import annotations

import shutil
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import tomli_w
import trio
import trio.testing

from qtui.authoring._spec_options import (
    ConsoleOptions,
    JobFixture,
    PluginOptions,
    console_options,
    plugin_options,
    recorded_fixtures,
    reload_options,
    split,
)
from qtui.backends import open_backend
from qtui.backends.base import Backend
from qtui.bus import EventBus, Subscription
from qtui.events import ConsoleKey, Notice, SelectionChanged, StatsUpdated
from qtui.model import BackendError, InvalidInput, JobState
from qtui.plugins.bundles.bundle import BundleError, read_bundle
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import MANIFEST_FILE, ManifestError, load_manifest
from qtui.plugins.runtime import api
from qtui.files.tomlfile import FileProblems
from qtui.plugins.runtime.events import MAIN_PANEL, PluginLifecycle, PluginMessage, job_plain
from qtui.plugins.runtime.host import Confirmation, PluginHandle, PluginHost, activity, all_idle, any_busy
from qtui.plugins.runtime.recording import Recording, read_recording
from qtui.plugins.runtime.sandbox import HostError, LuaSandbox
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.permissions import DecisionError, PermissionStore
from qtui.plugins.trust.policy import SitePolicy
from qtui.sanitize import one_line
from qtui.sqlite_queue import SQLiteQueue

#: Jobs a spec can read back with plugin:jobs() in one call.
MAX_JOBS_READ = 10_000
#: Log lines of each plugin a failing test prints (the newest).
OUTPUT_LINES = 30
MAX_OUTPUT_LINE = 300
#: What a spec may say about the row a command runs on (the console's selection).
_ROW_FIELDS = frozenset({"screen", "queue", "state", "job_id"})


async def settle() -> None:
    """Wait until no plugin or backend call is in flight and every task is waiting.

    The hosts' workers are plain threads: a batch can end while trio's tasks all wait, and
    what it hands to trio (a request to start) is applied a moment later. The idle wait applies
    what the batches before it handed over; a batch after it was offered an event after it, so
    a look counts as settled only when no event was offered and no request started since the
    look began.
    """
    while True:
        before = activity()
        await all_idle()  # events handed to plugins by the hosts' workers, and what they did
        await trio.testing.wait_all_threads_completed()
        await trio.testing.wait_all_tasks_blocked()
        if trio.testing.active_thread_count() == 0 and not any_busy() and activity() == before:
            return


def _fill_queue(path: Path, jobs: tuple[JobFixture, ...], clock: Callable[[], float]) -> None:
    """Create the queue database and its jobs through the queue's own producer and worker API,
    at the console's time `clock` (the backend counts rates by it).

    `clock` dates them: the console's own now, so that what was done "just now" is within the
    last minute of its statistics however long filling took.

    Jobs a worker must take (processing, completed, dead) are made first, one at a time, by a
    worker named ``qtest-<queue>``; ready and scheduled jobs follow. Within a state, jobs keep
    the order the spec lists them in.
    """
    taken_states = (JobState.PROCESSING, JobState.COMPLETED, JobState.DEAD)
    numbered = list(enumerate(jobs, 1))
    order = [nj for nj in numbered if nj[1].state in taken_states]
    order += [nj for nj in numbered if nj[1].state not in taken_states]
    # Not synced to disk: the queue lives for one test, and syncing would dominate its time.
    with SQLiteQueue.open(path, create=True, durable=False, clock=clock) as queue:
        workers = {}
        for number, job in order:
            try:
                if job.state not in taken_states:
                    delay = 3600.0 if job.state is JobState.SCHEDULED else 0.0
                    queue.enqueue(job.queue, job.payload, priority=job.priority, delay=delay)
                    continue
                queue.enqueue(job.queue, job.payload, priority=job.priority, max_attempts=1)
            except InvalidInput as exc:
                raise HostError(f"jobs[{number}]: {exc}") from None
            worker = workers.get(job.queue)
            if worker is None:
                worker = workers[job.queue] = queue.worker([job.queue], worker_id=f"qtest-{job.queue}")
            reserved = worker.reserve(timeout=0)
            assert reserved is not None, "the job just enqueued is the only ready one of its queue"
            if job.state is JobState.COMPLETED:
                worker.ack(reserved)
            elif job.state is JobState.DEAD:
                worker.fail(reserved, job.error or "failed")


def _problems_text(error: ManifestError | BundleError, folder: Path) -> str:
    """The problems of a plugin folder, with paths relative to it."""
    lines = []
    for problem in error.problems:
        try:
            shown = attrs.evolve(problem, file=problem.file.relative_to(folder))
        except ValueError:
            shown = problem
        lines.append(str(shown))
    return "\n".join(lines)


class _SpecClock:
    """The consoles' clock: wall time starts at `start` and moves with the virtual trio clock
    (`qtest.advance`); the monotonic time that call deadlines use is the machine's."""

    def __init__(self, virtual: trio.testing.MockClock, start: float) -> None:
        self._virtual = virtual
        self._offset = start - virtual.current_time()

    def time(self) -> float:
        return self._offset + self._virtual.current_time()

    def set(self, wall: float) -> None:
        """Make it `wall` now (a replay starts at its recording's time)."""
        self._offset = wall - self._virtual.current_time()

    def monotonic(self) -> float:
        return time.monotonic()


@attrs.define(eq=False)
class _Console:
    """One console of a spec: its folder, queue, bus and plugin host."""

    root: Path
    backend: Backend
    bus: EventBus
    host: PluginHost
    confirmations: list[tuple[str, str]]  # (plugin, what the operator was asked)
    notices: list[Notice] = attrs.field(factory=list)
    recording: Recording | None = None  # what p:replay() feeds, from qtest.load{recording = ...}
    scope: trio.CancelScope | None = None
    finished: trio.Event = attrs.field(factory=trio.Event)
    closed: bool = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with trio.CancelScope() as self.scope:
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.host.run)
                    subscription = self.bus.subscribe("qtest notices", (Notice,), capacity=1024)
                    nursery.start_soon(self._collect, subscription)
                    task_status.started()
        finally:
            self.finished.set()

    async def _collect(self, subscription: Subscription) -> None:
        async for notice in subscription:
            self.notices.append(notice)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.scope is not None:
            self.scope.cancel()
            await self.finished.wait()
        await trio.to_thread.run_sync(self.backend.close)
        await trio.to_thread.run_sync(shutil.rmtree, self.root, True)


@attrs.define(eq=False)
class _Loaded:
    """A plugin a spec started, as its handle id refers to it."""

    console: _Console
    name: str
    options: PluginOptions


class SpecDriver:
    """The `_qtest.*` host functions of one spec file, and the consoles its tests open."""

    def __init__(self, *, workdir: Path, base: Path, under_test: Path | None,
                 clock: trio.testing.MockClock, nursery: trio.Nursery, token: trio.lowlevel.TrioToken,
                 replay: Path | None = None) -> None:
        self._replay_file = replay  # qtui plugin test --replay FILE: qtest.recording
        self._workdir = workdir
        self._base = base
        self._under_test = under_test
        self._clock = clock
        self._now = _SpecClock(clock, time.time())
        self._nursery = nursery
        self._token = token
        self._consoles: list[_Console] = []
        self._opened = 0
        self._loaded: list[_Loaded] = []

    def expose(self, sandbox: LuaSandbox) -> None:
        """Make the driver functions callable from the spec as `_qtest.<name>`."""
        for name in ("load", "add", "reload", "stop", "send", "tick", "advance", "command",
                     "settings", "panel", "panels", "status", "notices", "audit", "log", "confirmations",
                     "commands", "timers", "jobs", "replay"):
            sandbox.expose(f"_qtest.{name}", self._from_thread(getattr(self, f"_{name}")))
        # qtest.recording, read once when the prelude loads (on the runner's side, not in Lua's thread)
        replay = self._replay_file
        sandbox.expose("_qtest.recording", lambda: None if replay is None else str(replay))

    def _from_thread(self, function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            return trio.from_thread.run(function, *args, trio_token=self._token)

        return call

    def plugin_output(self) -> tuple[str, ...]:
        """What the plugins of the consoles still open said: for each with anything to say, its
        state and reason, then its newest log lines (its errors among them), made inert."""
        lines: list[str] = []
        for loaded in self._loaded:
            if loaded.console.closed or loaded.console not in self._consoles:
                continue
            handle = loaded.console.host.plugins.get(loaded.name)
            if handle is None:
                continue
            log = handle.log_lines
            if not log and handle.error is None and handle.reason is None:
                continue
            state = handle.state.name.lower()
            reason = f": {one_line(handle.reason)}" if handle.reason else ""
            lines.append(f"{loaded.name} ({state}{reason}) logged:" if log else f"{loaded.name} ({state}{reason})")
            shown = log[-OUTPUT_LINES:]
            if len(log) > len(shown):
                lines.append(f"  ... {len(log) - len(shown)} earlier lines")
            lines += [f"  {one_line(line, MAX_OUTPUT_LINE)}" for line in shown]
        return tuple(lines)

    async def close_consoles(self) -> None:
        """Close every console opened since the last close (after each test)."""
        consoles, self._consoles = self._consoles, []
        for console in consoles:
            await console.close()

    # -- starting plugins -----------------------------------------------------------------

    async def _load(self, options: Any) -> int:
        plugin, console = split(options, "qtest.load")
        chosen = plugin_options(plugin, self._base, self._under_test, "qtest.load")
        return await self._start(await self._open_console(console_options(console)), chosen)

    async def _read(self, name: str) -> Recording:
        path = self._base / name
        try:
            return await trio.to_thread.run_sync(read_recording, path)
        except FileProblems as exc:
            raise HostError(str(exc.problems[0])) from None

    async def _add(self, handle: int, options: Any) -> int:
        loaded = self._get(handle)
        if not isinstance(options, dict):
            raise HostError("add takes a table of options")
        chosen = plugin_options(options, self._base, self._under_test, "add")
        return await self._start(loaded.console, chosen)

    async def _open_console(self, options: ConsoleOptions) -> _Console:
        self._opened += 1
        root = self._workdir / f"console-{self._opened}"
        (root / "plugins").mkdir(parents=True)
        recording = await self._read(options.recording) if options.recording is not None else None
        jobs = options.jobs
        if recording is not None:
            self._now.set(recording.started)  # the console (and its queue) start when the recording did
            jobs += recorded_fixtures(recording.jobs)
        await trio.to_thread.run_sync(_fill_queue, root / "queue.db", jobs, self._now.time)
        backend = open_backend(root / "queue.db", clock=self._now.time)
        bus = EventBus()
        confirmations: list[tuple[str, str]] = []
        answer = options.confirm

        async def confirm(handle: PluginHandle, confirmation: Confirmation) -> bool:
            confirmations.append((handle.name, str(confirmation)))
            return bool(answer)

        host = PluginHost(
            backend, bus, clock=self._now,
            store=PermissionStore(root / "permissions.toml"),
            policy=SitePolicy(forbid=frozenset(options.forbid)),
            audit=AuditLog(root / "audit.jsonl"),
            settings=SettingsStore(root / "plugin-settings.toml"),
            storage_dir=root / "plugin-data",
            confirmer=confirm if answer is not None else None,
        )
        console = _Console(root, backend, bus, host, confirmations, recording=recording)
        self._consoles.append(console)
        await self._nursery.start(console.run)
        return console

    async def _start(self, console: _Console, options: PluginOptions) -> int:
        if options.folder is None:
            _check_free(console, options.name)  # before its folder is written
        plugin = await trio.to_thread.run_sync(self._prepare, console, options)
        _check_free(console, plugin.name)
        await console.host.start(plugin)
        await settle()
        self._loaded.append(_Loaded(console, plugin.name, options))
        return len(self._loaded)

    def _prepare(self, console: _Console, options: PluginOptions) -> Plugin:
        """Write an inline plugin, read its manifest and record the operator's decisions."""
        folder = options.folder
        if folder is None:
            folder = console.root / "plugins" / options.name
            self._write_inline(folder, options)
        elif not (folder / MANIFEST_FILE).is_file():
            raise HostError(f"{folder}: not a plugin folder (no {MANIFEST_FILE})")
        try:
            manifest = load_manifest(folder)
            code_hash = read_bundle(folder).hash
        except (ManifestError, BundleError) as exc:
            raise HostError(_problems_text(exc, folder)) from None
        requested = manifest.permissions
        for what, chosen in (("grant", options.grant or ()), ("deny", options.deny),
                             ("undecided", options.undecided), ("no_confirm", options.no_confirm)):
            missing = [c.value for c in chosen if c not in requested]
            if missing:
                raise HostError(f"{what}: {manifest.name} does not request {', '.join(missing)}")
        if options.grant is None:
            grant = tuple(c for c in requested if c not in options.deny and c not in options.undecided)
        else:
            grant = options.grant
        if grant or options.deny:
            try:
                console.host.store.decide(manifest, code_hash, grant=grant, deny=options.deny,
                                          confirm={c: False for c in options.no_confirm})
            except DecisionError as exc:
                raise HostError(str(exc)) from None
        if options.settings:
            try:
                console.host.settings.save(manifest, dict(options.settings))
            except ValueError as exc:
                raise HostError(f"settings: {exc}") from None
        return Plugin(manifest, folder, Source.USER)

    @staticmethod
    def _write_inline(folder: Path, options: PluginOptions) -> None:
        """An inline plugin's folder: manifest.toml (requesting every capability the spec
        grants, denies or leaves undecided), init.lua and the spec's other files."""
        folder.mkdir(parents=True, exist_ok=True)
        requested = dict.fromkeys((*(options.grant or ()), *options.deny, *options.undecided))
        manifest = tomli_w.dumps({
            "name": options.name,
            "version": options.version,
            "description": f"{options.name}, written by a spec",
            "api": options.api,
            "permissions": [c.value for c in requested],
        })
        (folder / MANIFEST_FILE).write_text(manifest + textwrap.dedent(options.manifest), encoding="utf-8")
        (folder / "init.lua").write_text(options.source or "", encoding="utf-8")
        for relative, text in options.files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text, encoding="utf-8")

    async def _reload(self, handle: int, options: Any) -> None:
        loaded = self._get(handle)
        changed = reload_options(options, loaded.options)
        plugin = await trio.to_thread.run_sync(self._prepare, loaded.console, changed)
        await loaded.console.host.reload(plugin)
        await settle()
        loaded.options = changed

    async def _stop(self, handle: int) -> Any:
        loaded = self._get(handle)
        handoff = await loaded.console.host.stop(loaded.name)
        await settle()
        return handoff

    # -- what the console sends ---------------------------------------------------------------

    async def _send(self, handle: int, event: Any) -> None:
        loaded = self._get(handle)
        host, bus, name = loaded.console.host, loaded.console.bus, loaded.name
        if event == "stats":
            event = {"type": "stats"}
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise HostError("send takes 'stats' or an event table with a type")
        kind = event["type"]
        fields = {k: v for k, v in event.items() if k != "type"}
        match kind:
            case "stats":
                _no_fields(fields, kind)
                snapshot = await trio.to_thread.run_sync(loaded.console.backend.snapshot)
                bus.publish(StatsUpdated(snapshot))
            case "selection":
                _fields(fields, kind, required=("screen",), optional=("queue", "state", "job_id"))
                try:
                    state = JobState.parse(fields["state"]) if "state" in fields else None
                except InvalidInput as exc:
                    raise HostError(f"send selection: {exc}") from None
                bus.publish(SelectionChanged(fields["screen"], fields.get("queue"), state, fields.get("job_id")))
            case "key":
                _fields(fields, kind, required=("key",), optional=("panel",))
                host.key(name, fields["key"], fields.get("panel", MAIN_PANEL))
            case "mouse":
                mouse = {"action": "press", "button": 1, **fields}
                _fields(mouse, kind, required=("action",), optional=("panel",), numbers=("button", "column", "row"))
                host.mouse(name, mouse["action"], mouse["button"], mouse["column"], mouse["row"],
                           mouse.get("panel", MAIN_PANEL))
            case "resize":
                _fields(fields, kind, required=(), optional=("panel",), numbers=("width", "height"))
                host.resize(name, fields["width"], fields["height"], fields.get("panel", MAIN_PANEL))
            case "console_key":
                _fields(fields, kind, required=("key", "screen"))
                bus.publish(ConsoleKey(fields["key"], fields["screen"]))
            case "timer":
                _fields(fields, kind, required=("name",))
                await self._tick(handle, fields["name"])
            case "command":
                _fields(fields, kind, required=("name",), optional=("args", "row"))
                await self._command(handle, fields["name"], fields.get("args", ""), fields.get("row"))
            case "settings":
                _fields(fields, kind, required=(), optional=("settings",))
                await self._settings(handle, fields.get("settings", {}))
            case "message":
                _fields(fields, kind, required=("topic", "sender"), optional=("data",))
                bus.publish(PluginMessage(fields["topic"], fields["sender"], fields.get("data")))
            case "lifecycle":
                _fields(fields, kind, required=("plugin", "version", "state"), optional=("reason",))
                bus.publish(PluginLifecycle(fields["plugin"], fields["version"], fields["state"],
                                            fields.get("reason")))
            case "action":
                raise HostError("action events are the results of the plugin's own qtui.jobs requests")
            case _:
                types = ", ".join(e.type for e in api.EVENTS)
                raise HostError(f"send: unknown event type {kind!r} (types: {types})")
        await settle()

    async def _tick(self, handle: int, name: Any) -> None:
        loaded = self._get(handle)
        plugin = self._handle(loaded)
        if name not in plugin.timers:
            running = ", ".join(sorted(plugin.timers)) or "none"
            raise HostError(f"tick: {loaded.name} has no timer {name!r} running (running: {running})")
        loaded.console.host.fire_timer(loaded.name, name)
        await settle()

    async def _replay(self, handle: int, name: Any = None) -> int:
        """Feed a recording into the plugin: the console's clock starts at the recording's start and
        moves to each event's time (the plugin's timers fire on the way), then the event arrives as
        it did on the recorded console. Returns how many events the plugin received."""
        loaded = self._get(handle)
        if name is not None:
            recording = await self._read(_text_arg(name, "replay"))
        elif loaded.console.recording is not None:
            recording = loaded.console.recording
        else:
            raise HostError("replay: which recording? p:replay(FILE), qtest.load{recording = FILE}, or run "
                            "qtui plugin test --replay FILE (qtest.recording)")
        if recording is not loaded.console.recording:
            self._now.set(recording.started)
        elapsed, delivered = 0.0, 0
        for at, event in recording.events:
            if at > elapsed:
                await self._move(at - elapsed)
                elapsed = at
            if loaded.console.host.replay(loaded.name, event):
                delivered += 1
            await settle()
        return delivered

    async def _advance(self, seconds: Any) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e9:
            raise HostError("advance takes a number of seconds, 0 or more")
        await self._move(seconds)

    async def _move(self, seconds: float) -> None:
        """Move the virtual clock `seconds` on, stopping at each deadline on the way (a plugin's
        timer fires at its own time, and sees that time)."""
        await settle()
        left = seconds
        while left > 0:
            step = min(left, max(trio.lowlevel.current_statistics().seconds_to_next_deadline, 1e-6))
            self._clock.jump(step)
            left -= step
            await settle()

    async def _command(self, handle: int, command: Any, args: Any = "", row: Any = None) -> None:
        loaded = self._get(handle)
        if not isinstance(command, str) or not isinstance(args, (str, type(None))):
            raise HostError("command takes a command name and an optional string of arguments")
        if row is not None and (not isinstance(row, dict) or set(row) - _ROW_FIELDS
                                or not all(isinstance(v, str) for v in row.values())):
            raise HostError(f"command: the row is a table of {', '.join(sorted(_ROW_FIELDS))} (strings)")
        if not loaded.console.host.run_command(loaded.name, command, args or "", row):
            known = ", ".join(sorted(self._handle(loaded).commands)) or "none"
            raise HostError(f"command: {loaded.name} has no command {command!r} (registered: {known})")
        await settle()

    async def _settings(self, handle: int, changes: Any) -> dict[str, Any]:
        loaded = self._get(handle)
        if changes == []:
            changes = {}
        if not isinstance(changes, dict):
            raise HostError("settings takes a table of setting names and values")
        try:
            values = await loaded.console.host.change_settings(loaded.name, changes)
        except ValueError as exc:
            raise HostError(f"settings: {exc}") from None
        await settle()
        return values

    # -- what a spec reads back -------------------------------------------------------------

    async def _panel(self, handle: int, panel: Any = None) -> list[dict[str, Any]]:
        plugin = self._handle(self._get(handle))
        if panel in (None, MAIN_PANEL):
            lines = plugin.panel
        elif panel in plugin.panels:
            lines = plugin.panels[panel].lines
        else:
            shown = ", ".join([MAIN_PANEL, *plugin.panels])
            raise HostError(f"{plugin.name} has no panel {panel!r} open (open: {shown})")
        return [
            {"text": "".join(span.text for span in line),
             "spans": [{"text": span.text, "style": span.style} for span in line]}
            for line in lines
        ]

    async def _panels(self, handle: int) -> list[dict[str, Any]]:
        plugin = self._handle(self._get(handle))
        return [{"name": name, "title": panel.title, **({"rows": panel.rows} if panel.rows else {})}
                for name, panel in plugin.panels.items()]

    async def _status(self, handle: int) -> dict[str, Any]:
        plugin = self._handle(self._get(handle))
        error = plugin.error
        return {
            "state": plugin.state.name.lower(),
            "reason": plugin.reason,
            "errors": plugin.errors,
            "error": None if error is None else {
                "message": error.message, "file": error.file, "line": error.line, "text": str(error),
            },
        }

    async def _notices(self, handle: int) -> list[dict[str, str]]:
        loaded = self._get(handle)
        prefix = f"{loaded.name}: "
        return [{"text": n.text[len(prefix):], "level": n.level}
                for n in loaded.console.notices if n.text.startswith(prefix)]

    async def _audit(self, handle: int) -> list[dict[str, Any]]:
        loaded = self._get(handle)
        reading = await trio.to_thread.run_sync(lambda: loaded.console.host.audit.read(plugin=loaded.name))
        return [{"capability": e.capability, "outcome": e.outcome.value, "reason": e.reason or None,
                 "jobs": e.jobs, "detail": e.detail}
                for e in reading.entries]

    async def _log(self, handle: int) -> list[str]:
        return self._handle(self._get(handle)).log_lines

    async def _confirmations(self, handle: int) -> list[str]:
        loaded = self._get(handle)
        return [what for plugin, what in loaded.console.confirmations if plugin == loaded.name]

    async def _commands(self, handle: int) -> dict[str, str]:
        return dict(self._handle(self._get(handle)).commands)

    async def _timers(self, handle: int) -> list[str]:
        return sorted(self._handle(self._get(handle)).timers)

    async def _jobs(self, handle: int, queue: Any = None, state: Any = "ready") -> list[dict[str, Any]]:
        backend = self._get(handle).console.backend
        if queue is not None and not isinstance(queue, str):
            raise HostError("jobs takes a queue name (or nil for every queue) and a state")
        try:
            state = JobState.parse(state if isinstance(state, str) else "")
        except InvalidInput as exc:
            raise HostError(f"jobs: {exc}") from None

        def read() -> list[dict[str, Any]]:
            jobs, cursor = [], None
            while len(jobs) < MAX_JOBS_READ:
                page = backend.peek(None if queue in (None, "all") else queue, state, cursor=cursor, limit=500)
                jobs += [job_plain(job) for job in page.jobs]
                cursor = page.next_cursor
                if cursor is None:
                    break
            return jobs

        try:
            return await trio.to_thread.run_sync(read)
        except BackendError as exc:
            raise HostError(f"jobs: {exc}") from None

    # -- helpers --------------------------------------------------------------------------

    def _get(self, handle: Any) -> _Loaded:
        if isinstance(handle, bool) or not isinstance(handle, int) or not 1 <= handle <= len(self._loaded):
            raise HostError("not a plugin from qtest.load")
        loaded = self._loaded[handle - 1]
        if loaded.console.closed:
            raise HostError("this plugin's console was closed at the end of its test; "
                            "call qtest.load in the test or in before_each")
        return loaded

    @staticmethod
    def _handle(loaded: _Loaded) -> PluginHandle:
        return loaded.console.host.plugins[loaded.name]


def _text_arg(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise HostError(f"{what} takes a file name (a string)")
    return value


def _check_free(console: _Console, name: str) -> None:
    if name in console.host.plugins:
        raise HostError(f"a plugin named {name} is already loaded in this console; give this one another name=")


def _fields(fields: dict[str, Any], kind: str, *, required: tuple[str, ...], optional: tuple[str, ...] = (),
            numbers: tuple[str, ...] = ()) -> None:
    """Check an event table a spec sends: its text fields and whole-number fields."""
    unknown = sorted(set(fields) - set(required) - set(optional) - set(numbers))
    if unknown:
        raise HostError(f"send {kind}: unknown field {unknown[0]!r}")
    for name in required:
        if name not in fields:
            raise HostError(f"send {kind}: {name} is missing")
    for name in (*required, *optional):
        if name in fields and name not in ("data", "settings") and not isinstance(fields[name], str):
            raise HostError(f"send {kind}: {name} must be a string")
    for name in numbers:
        value = fields.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise HostError(f"send {kind}: {name} must be a whole number")


def _no_fields(fields: dict[str, Any], kind: str) -> None:
    if fields:
        raise HostError(f"send {kind}: the {kind} come from the queue; it takes no fields")
