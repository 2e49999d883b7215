"""Checking a plugin folder without running it: the manifest, the bundle, and every Lua file compiled."""

from __future__ import annotations

from pathlib import Path

import attrs

from qtui.files.tomlfile import Problem
from qtui.plugins.bundles.bundle import BundleError, read_bundle
from qtui.plugins.bundles.lua_syntax import syntax_problem
from qtui.plugins.bundles.manifest import Limits, Manifest, ManifestError, load_manifest


@attrs.frozen
class CheckResult:
    """What `plugin check` found in a folder: the manifest if valid, the hash if readable."""

    manifest: Manifest | None
    code_hash: str | None
    problems: tuple[Problem, ...]


def check_folder(folder: Path) -> CheckResult:
    """Validate the manifest and compile every Lua file of the bundle in `folder`, running nothing."""
    problems: list[Problem] = []
    manifest = None
    try:
        manifest = load_manifest(folder)
    except ManifestError as e:
        problems += e.problems
    try:
        bundle = read_bundle(folder)
    except BundleError as e:
        return CheckResult(manifest, None, tuple(problems + list(e.problems)))
    memory_bytes = (manifest.limits if manifest is not None else Limits()).memory_bytes
    for relative, content in bundle.files.items():
        if not relative.endswith(".lua"):
            continue
        path = folder / relative
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as e:
            line = content[: e.start].count(b"\n") + 1
            problems.append(Problem(path, line, "", "not UTF-8 text"))
            continue
        problem = syntax_problem(content, relative, memory_bytes=memory_bytes)
        if problem is not None:
            problems.append(Problem(path, problem.line, "", problem.message))
    return CheckResult(manifest, bundle.hash, tuple(problems))
