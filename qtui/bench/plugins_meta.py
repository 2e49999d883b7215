"""Costs of plugin metadata work: manifest parsing, discovery with hashing, verdicts, audit.

    python -m qtui.bench plugins_meta [--plugins N] [--lua-kib N] [--repeats N]

Each operation is shown beside its floor (the bare library doing the same work: tomllib,
hashlib, os.write, flock and an atomic replace) and, where there is one, what an operator
would run instead (whole processes, start-up included). Figures are per call, the minimum and
median of the repeats; in-process figures time a batch of calls per repeat. Runs in a
temporary folder; nothing of the operator's is touched.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

import tomli_w

from qtui.bench.idle import console_env
from qtui.bench.redis import print_table, repeated
from qtui.files.atomic import replace_file
from qtui.plugins.bundles.bundle import bundle_files, read_bundle
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.discovery import Source, discover
from qtui.plugins.bundles.manifest import parse_manifest
from qtui.plugins.trust.audit import AuditLog, Outcome
from qtui.plugins.trust.permissions import PermissionStore
from qtui.plugins.trust.policy import SitePolicy

_MANIFEST = {
    "name": "bench",
    "version": "1.2.3",
    "description": "benchmark plugin",
    "api": "1",
    "permissions": ["stats.read", "timers", "jobs.purge"],
    "limits": {"memory_mib": 8},
    "panel": {"title": "Bench", "rows": 8, "placement": "right"},
    "settings": {
        "threshold": {"type": "number", "default": 5, "min": 0, "max": 100, "description": "t"},
        "view": {"type": "choice", "choices": ["a", "b"], "default": "a"},
    },
}
HEADERS = ("operation", "qtui min / median", "floor min / median", "instead min / median", "floor, instead")


def per_call(fn: Callable[[], object], calls: int, repeats: int) -> list[float]:
    """Sorted seconds per call of `fn`: each repeat times `calls` calls in a row."""

    def batch() -> None:
        for _ in range(calls):
            fn()

    return [t / calls for t in repeated(batch, repeats)]


def processes(argv: Sequence[str], repeats: int, env: dict[str, str] | None = None) -> list[float]:
    """Sorted seconds of `repeats` runs of the whole process `argv`, start-up included."""

    def run() -> None:
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    return repeated(run, repeats)


def span(times: Sequence[float] | None) -> str:
    """`min / median` of sorted seconds, in units that fit."""
    if times is None:
        return "-"
    low, mid = times[0], statistics.median(times)
    if mid < 1e-3:
        return f"{low * 1e6:.1f} / {mid * 1e6:.1f} us"
    if mid < 1:
        return f"{low * 1e3:.2f} / {mid * 1e3:.2f} ms"
    return f"{low:.2f} / {mid:.2f} s"


def _make_plugins(root: Path, count: int, lua_bytes: int) -> None:
    for i in range(count):
        folder = root / f"p{i}"
        folder.mkdir(parents=True)
        (folder / "manifest.toml").write_text(tomli_w.dumps({**_MANIFEST, "name": f"p{i}"}))
        (folder / "init.lua").write_text("-- x\n" * (lua_bytes // 5))
        (folder / "lib").mkdir()
        (folder / "lib" / "util.lua").write_text("return {}\n")


def _files(folders: Sequence[Path]) -> list[Path]:
    return [folder / name for folder in folders for name in bundle_files(folder)]


def _bare_hash(files: Sequence[Path]) -> None:
    """The floor of hashing a bundle: read each file and sha256 it, nothing else."""
    for path in files:
        with open(path, "rb") as f:
            hashlib.sha256(f.read()).digest()


def _bare_toml_read(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


class _Alternating:
    """Changes a file on each write(): its bytes, then the same with a comment added, and back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = path.read_bytes()
        self.versions = (text, text + b"# changed\n")
        self.written = 0

    def write(self) -> None:
        self.written += 1
        self.path.write_bytes(self.versions[self.written % 2])


def _bare_locked_rewrite(path: Path) -> None:
    """The floor of a decision: under flock, read and parse the file, dump it, replace it atomically."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        replace_file(path, tomli_w.dumps(_bare_toml_read(path)))
    finally:
        os.close(fd)


def _bare_append(path: Path, line: bytes) -> None:
    """The floor of an audit record: open for append, one write, close (AuditLog does not fsync)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _bare_read_jsonl(paths: Sequence[Path]) -> None:
    for path in paths:
        with open(path, "rb") as f:
            for line in f:
                json.loads(line)


def main(argv: list[str]) -> int:
    """Run the benchmark; prints one table."""
    parser = argparse.ArgumentParser(prog="python -m qtui.bench plugins_meta", description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=50, help="plugins to discover (default 50)")
    parser.add_argument("--lua-kib", type=int, default=64, help="entry file size in KiB (default 64)")
    parser.add_argument("--repeats", type=int, default=7, help="runs of each figure (min and median shown)")
    args = parser.parse_args(argv)
    if args.plugins < 1 or args.lua_kib < 1 or args.repeats < 1:
        parser.error("--plugins, --lua-kib and --repeats must be at least 1")
    reps = args.repeats
    qtui = [sys.executable, "-m", "qtui"]
    rows: list[tuple[str, ...]] = []

    def row(name: str, ours: list[float], floor: list[float] | None, instead: list[float] | None, what: str) -> None:
        rows.append((name, span(ours), span(floor), span(instead), what))
        print(f"  measured: {name}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="qtui-bench-meta-") as tmp:
        home = Path(tmp)
        env = console_env(home, [])
        config = home / "config" / "qtui"
        plugins = config / "plugins"
        _make_plugins(plugins, args.plugins, args.lua_kib * 1024)
        dirs = [(Source.USER, plugins)]
        text = tomli_w.dumps(_MANIFEST)
        (home / "manifest.toml").write_text(text)
        row("parse_manifest (typical manifest)",
            per_call(lambda: parse_manifest(text, file=Path("manifest.toml")), 200, reps),
            per_call(lambda: tomllib.loads(text), 200, reps),
            processes(["cat", str(home / "manifest.toml")], reps),
            "tomllib.loads; cat manifest.toml")

        every = discover(dirs).plugins
        folders = [p.folder for p in every]
        all_files = [str(f) for f in _files(folders)]
        row(f"discover + hash {args.plugins} plugins",
            per_call(lambda: [read_bundle(p.folder) for p in discover(dirs).plugins], 1, reps),
            per_call(lambda: _bare_hash(_files(folders)), 1, reps),
            processes(["sha256sum", *all_files], reps),
            "listing + hashlib; sha256sum of the files")
        first = _files(folders[:1])
        row(f"read_bundle + hash ({args.lua_kib} KiB entry)",
            per_call(lambda: read_bundle(folders[0]), 20, reps),
            per_call(lambda: _bare_hash(first), 20, reps),
            processes(["sha256sum", *map(str, first)], reps),
            "hashlib; sha256sum of its files")

        store = PermissionStore(config / "permissions.toml")
        for plugin in every:  # a realistic file: a record per installed plugin
            store.decide(plugin.manifest, read_bundle(plugin.folder).hash, grant=plugin.manifest.permissions)
        found = every[0]
        code_hash = read_bundle(found.folder).hash
        row("PermissionStore.decide (locked, fsync)",
            per_call(lambda: store.decide(found.manifest, code_hash, grant=[Capability.TIMERS]), 5, reps),
            per_call(lambda: _bare_locked_rewrite(store.path), 5, reps),
            processes([*qtui, "plugin", "grant", "--yes", found.name, "timers"], reps, env),
            "flock+tomllib+tomli_w+replace; qtui plugin grant")
        policy = SitePolicy()
        row("PermissionStore.grants (file unchanged)",
            per_call(lambda: store.grants(found.manifest, code_hash, policy), 20, reps),
            per_call(lambda: _bare_toml_read(store.path), 20, reps),
            processes([*qtui, "plugin", "info", found.name], reps, env),
            "tomllib read; qtui plugin info NAME")
        versions = _Alternating(store.path)
        row("PermissionStore.grants (after each change)",
            per_call(lambda: (versions.write(), store.grants(found.manifest, code_hash, policy)), 20, reps),
            per_call(lambda: (versions.write(), _bare_toml_read(store.path)), 20, reps),
            None,
            "same change + tomllib read")
        grants = store.grants(found.manifest, code_hash, policy)
        granted = grants.record.granted if grants.record else frozenset()
        row("Grants.check (in memory)",
            per_call(lambda: grants.check(Capability.JOBS_PURGE), 2000, reps),
            per_call(lambda: Capability.JOBS_PURGE in granted, 2000, reps),
            None,
            "set membership")
        row(f"qtui plugin list ({args.plugins} plugins)",
            processes([*qtui, "plugin", "list"], reps, env),
            None,
            processes(["cat", *all_files], reps),
            "-; cat of every plugin file")

        log = AuditLog(home / "audit.jsonl", max_bytes=256 * 1024)
        entry = log.record("p0", "1.2.3", "jobs.purge", Outcome.DONE, "purged 3 jobs")
        line = entry.to_line().encode("ascii")
        row("AuditLog.record (append, rotating)",
            per_call(lambda: log.record("p0", "1.2.3", "jobs.purge", Outcome.DONE, "purged 3 jobs"), 200, reps),
            per_call(lambda: _bare_append(home / "bare.jsonl", line), 200, reps),
            None,
            "open O_APPEND + os.write")
        logs = sorted(home.glob("audit.jsonl*"))
        row("AuditLog.read (all files)",
            per_call(lambda: log.read(), 1, reps),
            per_call(lambda: _bare_read_jsonl(logs), 1, reps),
            processes(["cat", *map(str, logs)], reps),
            "json.loads per line; cat")
    print_table(f"Plugin metadata: {args.plugins} plugins, {args.lua_kib} KiB entry files; "
                f"per call, min / median of {reps} repeats", rows, HEADERS)
    print(f"\n{os.cpu_count()} CPUs; temporary folder on {tempfile.gettempdir()}")
    return 0
