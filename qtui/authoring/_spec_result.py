"""The outcome of one spec test, shared by the runner (:mod:`._spec_run`) and its reporting."""

from __future__ import annotations

from pathlib import Path

import attrs


@attrs.frozen
class SpecResult:
    """One test of a spec file (or the file itself, when it could not be loaded)."""

    file: Path
    names: tuple[str, ...]  # describe names, then the it name
    where: str  # file:line of the `it`
    passed: bool
    location: str | None = None  # file:line of the failure, when known
    message: str = ""
    output: tuple[str, ...] = ()  # what the test's plugins logged (their errors too), for a failure

    @property
    def title(self) -> str:
        return " ".join(self.names)
