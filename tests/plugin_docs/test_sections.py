"""The section files beside the man pages: the source of the plugin man pages and of :help."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from qtui import docs as man_docs
from qtui.authoring import docs
from qtui.console.screens.help import help_lines

PROSE = man_docs.MAN / docs.PROSE_FOLDER
_PLACEHOLDER = re.compile(r"(?<!\\)\{([A-Za-z][\w.-]*)\}")
_DIRECTIVE = re.compile(r"^@(.*)$", re.M)


def prose_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "man" / docs.PROSE_FOLDER
    shutil.copytree(man_docs.MAN, folder.parent)
    return folder


def test_a_checkout_reads_the_files_beside_the_man_pages() -> None:
    assert docs.prose_dir() == PROSE


def test_every_section_has_its_file_and_every_file_is_a_section() -> None:
    files = {path.name for path in PROSE.iterdir()}
    assert files == {f"{name.lower()}.txt" for name in docs.SECTIONS} | {"README.md"}
    assert {name for topic in docs.TOPICS.values() for name in topic.sections} <= set(docs.SECTIONS)


def test_every_value_and_generated_part_code_offers_is_shown_somewhere() -> None:
    """No declaration is left out of the documentation (every example plugin, sample, field list)."""
    texts = [section_file.read_text(encoding="utf-8") for section_file in PROSE.glob("*.txt")]
    placeholders = {name for text in texts for name in _PLACEHOLDER.findall(text)}
    directives = {name for text in texts for name in _DIRECTIVE.findall(text)}
    assert placeholders == set(docs.PLACEHOLDERS)
    assert directives == set(docs.DIRECTIVES)


def test_an_edit_to_a_section_file_shows_in_the_man_page_and_in_help(tmp_path: Path, monkeypatch) -> None:
    folder = prose_copy(tmp_path)
    verdicts = folder / "verdicts.txt"
    verdicts.write_text(verdicts.read_text() + "\nAsk *your* admin about `policy.toml` ({policy.file}).\n")
    assert "Ask \\fIyour\\fR admin about \\fBpolicy.toml\\fR (policy.toml)." in docs.roff_section("VERDICTS", folder)
    assert "Ask your admin about policy.toml (policy.toml)." in docs.help_text("permissions", folder=folder)

    monkeypatch.setattr(man_docs, "MAN", folder.parent)
    assert man_docs.main([]) == 0
    assert "Ask \\fIyour\\fR admin" in (folder.parent / "qtui-permissions.5").read_text()


def test_a_wrong_section_file_stops_the_generator_naming_file_and_line(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = prose_copy(tmp_path)
    guide = folder / "guide.txt"
    lines = guide.read_text().split("\n")
    lines.insert(4, "A cap of {limits.memory} MiB.")
    guide.write_text("\n".join(lines))
    monkeypatch.setattr(man_docs, "MAN", folder.parent)
    assert man_docs.main(["--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"python -m qtui.docs: {guide}:5: unknown placeholder {{limits.memory}} (did you mean ")


def test_help_shows_a_wrong_or_missing_section_in_its_place(tmp_path: Path, monkeypatch) -> None:
    folder = prose_copy(tmp_path)
    (folder / "testing.txt").unlink()
    (folder / "compatibility.txt").write_text("# Compatibility\n\n@nothing\n")
    monkeypatch.setattr(docs, "prose_dir", lambda: folder)

    lines = [str(line) for line in help_lines("plugins", read_only=False)]
    assert {"WRITING PLUGINS", "TESTING", "COMPATIBILITY", "EXAMPLES"} <= set(lines)
    text = docs.help_text("plugins", width=10_000)  # the long paths unwrapped
    assert f"This section cannot be shown: {folder / 'testing.txt'}: No such file or directory" in text
    assert f"This section cannot be shown: {folder / 'compatibility.txt'}:3: unknown directive @nothing" in text


@pytest.mark.parametrize("name", docs.SECTIONS)
def test_every_section_has_a_title_and_content(name: str) -> None:
    document = docs.section(name)
    assert document.title and document.blocks
