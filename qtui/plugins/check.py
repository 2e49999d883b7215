"""Checking a plugin folder without running it: the manifest, the bundle, and every Lua file compiled."""

from __future__ import annotations

from pathlib import Path

import attrs

from qtui.plugins._tomlfile import Problem
from qtui.plugins.manifest import Manifest, ManifestError, load_manifest
from qtui.plugins.permissions import BundleError, read_bundle


@attrs.frozen
class CheckResult:
    """What `plugin check` found in a folder: the manifest if valid, the hash if readable."""

    manifest: Manifest | None
    code_hash: str | None
    problems: tuple[Problem, ...]


def check_folder(folder: Path) -> CheckResult:
    """Validate the manifest and compile every Lua file of the bundle in `folder`, running nothing."""
    from qtui.plugins.sandbox import Limits, compile_check  # loads Lua only when a folder is checked

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
    if manifest is not None:
        limits = Limits(memory_bytes=manifest.limits.memory_bytes)
    else:
        limits = Limits()
    for relative, content in bundle.files.items():
        if not relative.endswith(".lua"):
            continue
        path = folder / relative
        try:
            source = content.decode("utf-8")
        except UnicodeDecodeError as e:
            line = content[: e.start].count(b"\n") + 1
            problems.append(Problem(path, line, "", "not UTF-8 text"))
            continue
        # Lua names the chunk, which is this very file, so only its line is taken from the error.
        errors = compile_check(source, relative, limits=limits)
        problems += [Problem(path, error.line, "", error.message) for error in errors]
    return CheckResult(manifest, bundle.hash, tuple(problems))
