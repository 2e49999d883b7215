"""Man pages: lint-clean, and in sync with the keymap registry and the CLI."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from qtui import docs
from qtui.cli.main import build_parser

MAN = Path(__file__).resolve().parents[2] / "man"
PAGES = sorted(MAN.glob("*.[1-8]"))


def test_generated_sections_match_the_registry() -> None:
    page = (MAN / "qtui.1").read_text(encoding="utf-8")
    assert docs.render(page) == page, "run: python -m qtui.docs"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_is_lint_clean(page: Path, system_tool) -> None:
    system_tool("groff", "groff")
    result = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", str(page)], capture_output=True, text=True)
    assert result.stderr == "" and result.returncode == 0


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_name_line_parses_for_apropos(page: Path, system_tool) -> None:
    system_tool("lexgrog", "man-db")
    result = subprocess.run(["lexgrog", str(page)], capture_output=True, text=True)
    assert result.returncode == 0 and " - " in result.stdout


def _subcommands(parser: argparse.ArgumentParser | None = None) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of `parser` (default: qtui's), by name; {} if it has none."""
    parser = parser or build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    return dict(actions[0].choices) if actions else {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")}  # noqa: SLF001


def test_every_subcommand_and_option_is_documented() -> None:
    page = (MAN / "qtui.1").read_text(encoding="utf-8").replace("\\-", "-")
    for name, parser in _subcommands().items():
        assert re.search(rf"^\.B(I)? {name}\b", page, re.M), f"subcommand {name} missing from qtui(1)"
        for option in _options(parser) - {"--help"}:
            assert option in page, f"{name} {option} missing from qtui(1)"
    for option in _options(build_parser()) - {"--help"}:
        assert option in page


def _entry(page: str, command: str) -> str | None:
    """The entry tagged `command` ("plugin grant"): from its .TP up to the next .TP, .SS or .SH."""
    tag = rf'^\.TP\n\.BI? "?{re.escape(command)}\b'
    found = re.search(tag + r".*?(?=^\.(?:TP|SS|SH)\b)", page, re.M | re.S)
    return found.group() if found else None


def test_every_nested_subcommand_and_option_is_documented_in_its_entry() -> None:
    page = (MAN / "qtui.1").read_text(encoding="utf-8").replace("\\-", "-")
    nested = {
        f"{group} {name}": parser
        for group, group_parser in _subcommands().items()
        for name, parser in _subcommands(group_parser).items()
    }
    assert "plugin grant" in nested
    for command, parser in nested.items():
        entry = _entry(page, command)
        assert entry is not None, f"subcommand {command} missing from qtui(1)"
        for option in _options(parser) - {"--help"}:
            assert option in entry, f"{command} {option} missing from its entry in qtui(1)"


@pytest.mark.slow
def test_wheel_installs_every_man_page(tmp_path: Path) -> None:
    """The built wheel carries man/ to <prefix>/share/man, where man(1) finds it, and the Lua type definitions."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
         str(MAN.parent)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("qtui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for page in PAGES:
        section = page.suffix.lstrip(".")
        assert any(n.endswith(f".data/data/share/man/man{section}/{page.name}") for n in names), page.name
    assert "qtui/authoring/lua/qtui.d.lua" in names
    # the bundled plugins, every file of them, to <prefix>/share/qtui/lua_plugins
    bundled = MAN.parent / "lua_plugins"
    for path in bundled.rglob("*"):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(bundled).parts):
            relative = path.relative_to(MAN.parent).as_posix()
            assert any(n.endswith(f".data/data/share/qtui/{relative}") for n in names), relative

