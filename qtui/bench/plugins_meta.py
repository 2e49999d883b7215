"""Costs of plugin metadata work: manifest parsing, discovery with hashing, verdicts, audit.

    python -m qtui.bench plugins_meta [--plugins N] [--repeat N]

Runs in a temporary folder; nothing of the operator's is touched.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tomli_w

from qtui.plugins.bundles.bundle import read_bundle
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


def _per_call(fn: Callable[[], object], repeat: int) -> float:
    """Mean seconds per call of `fn` over `repeat` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _make_plugins(root: Path, count: int, lua_bytes: int) -> None:
    for i in range(count):
        folder = root / f"p{i}"
        folder.mkdir(parents=True)
        (folder / "manifest.toml").write_text(tomli_w.dumps({**_MANIFEST, "name": f"p{i}"}))
        (folder / "init.lua").write_text("-- x\n" * (lua_bytes // 5))
        (folder / "lib").mkdir()
        (folder / "lib" / "util.lua").write_text("return {}\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench plugins_meta")
    parser.add_argument("--plugins", type=int, default=50, help="plugins to discover (default 50)")
    parser.add_argument("--lua-kib", type=int, default=64, help="entry file size in KiB (default 64)")
    parser.add_argument("--repeat", type=int, default=2000, help="calls per fast measurement")
    args = parser.parse_args(argv)
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = tomli_w.dumps(_MANIFEST)
        rows.append(("parse_manifest (typical manifest)", _per_call(
            lambda: parse_manifest(text, file=Path("manifest.toml")), args.repeat)))

        plugins = root / "plugins"
        _make_plugins(plugins, args.plugins, args.lua_kib * 1024)
        rows.append((f"discover {args.plugins} plugins", _per_call(
            lambda: discover([(Source.USER, plugins)]), 5)))
        rows.append((f"read_bundle + hash ({args.lua_kib} KiB entry)", _per_call(
            lambda: read_bundle(plugins / "p0"), 50)))

        everything = discover([(Source.USER, plugins)])
        store = PermissionStore(root / "permissions.toml")
        for plugin in everything.plugins:  # a realistic file: a record per installed plugin
            code = read_bundle(plugin.folder).hash
            store.decide(plugin.manifest, code, grant=plugin.manifest.permissions)
        found = everything.plugins[0]
        code_hash = read_bundle(found.folder).hash
        rows.append(("PermissionStore.decide (locked, fsync)", _per_call(
            lambda: store.decide(found.manifest, code_hash, grant=[Capability.TIMERS]), 50)))
        rows.append(("PermissionStore.grants (reads file)", _per_call(
            lambda: store.grants(found.manifest, code_hash, SitePolicy()), 200)))
        grants = store.grants(found.manifest, code_hash, SitePolicy())
        rows.append(("Grants.check (in memory)", _per_call(
            lambda: grants.check(Capability.JOBS_PURGE), args.repeat * 10)))

        log = AuditLog(root / "audit.jsonl", max_bytes=256 * 1024)
        rows.append(("AuditLog.record (append, rotating)", _per_call(
            lambda: log.record("p0", "1.2.3", "jobs.purge", Outcome.DONE, "purged 3 jobs"),
            args.repeat)))
        rows.append(("AuditLog.read (all files)", _per_call(lambda: log.read(), 5)))
    print(f"{'operation':<44} {'per call':>12}")
    print("-" * 57)
    for name, seconds in rows:
        shown = f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"
        print(f"{name:<44} {shown:>12}")
    print(f"\n{os.cpu_count()} CPUs; temporary folder on {tempfile.gettempdir()}")
    return 0
