"""Man pages: lint-clean, and in sync with the keymap registry and the CLI."""

from __future__ import annotations

import argparse
import re
import site
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """qtui built as a wheel, once for the tests of this module."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder),
         str(MAN.parent)],
        check=True, capture_output=True,
    )
    (built,) = folder.glob("qtui-*.whl")
    return built


@pytest.mark.slow
def test_wheel_installs_every_man_page(wheel: Path) -> None:
    """The built wheel carries man/ to <prefix>/share/man, where man(1) finds it, and the Lua type definitions."""
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
    # the prose of the plugin documentation, every section file, to <prefix>/share/qtui/plugin-docs
    prose = sorted(p.name for p in (MAN / "plugin-docs").glob("*.txt"))
    assert prose and all(any(n.endswith(f".data/data/share/qtui/plugin-docs/{name}") for n in names) for name in prose)


@pytest.mark.slow
def test_an_installed_wheel_shows_the_plugin_help(wheel: Path, tmp_path: Path) -> None:
    """Installed by pip (not from this checkout), the console's :help finds the section files."""
    prefix = tmp_path / "prefix"
    # --ignore-installed: with --prefix alone, pip uninstalls the qtui this test suite runs from.
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
                    "--prefix", str(prefix), str(wheel)],
                   check=True, capture_output=True)
    (installed,) = prefix.glob("lib/python*/site-packages")
    # -S: no site-packages .pth files, so not this checkout's editable install; its dependencies come after.
    script = (
        "import sys\n"
        f"sys.prefix = {str(prefix)!r}\n"
        f"sys.path[:0] = [{str(installed)!r}, *{site.getsitepackages()!r}]\n"
        "import qtui\n"
        "from qtui.authoring import docs\n"
        "print(qtui.__file__)\n"
        "print(docs.prose_dir())\n"
        "print(docs.help_text('plugins', width=10_000))\n"
    )
    result = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True)
    package, folder, *text = result.stdout.splitlines()
    assert package == str(installed / "qtui" / "__init__.py")
    assert folder == str(prefix / "share" / "qtui" / "plugin-docs")
    assert "WRITING PLUGINS" in text and "cannot be shown" not in result.stdout
