"""qtui(5), the configuration file's page: in sync with the keymap registry and the file's reader."""

from __future__ import annotations

import re
from pathlib import Path

from qtui import docs
from qtui.config import FIELDS, load
from qtui.keynames import NAMED
from qtui.console.palette import THEMES
from qtui.console.settings import console_settings

PAGE = Path(__file__).resolve().parents[2] / "man" / "qtui.5"


def _text() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_generated_actions_match_the_registry() -> None:
    assert docs.render(_text(), docs.PAGES["qtui.5"]) == _text(), "run: python -m qtui.docs"


def test_every_field_theme_and_key_name_is_documented() -> None:
    page = _text().replace("\\-", "-")
    fields = re.findall(r"^\.TP\n\.B \[?(\w+)\]?$", page.split(".SH FIELDS")[1].split(".SH")[0], re.M)
    assert sorted(fields) == sorted(FIELDS)
    for theme in THEMES:
        assert re.search(rf"^\.B {theme}$", page, re.M), theme
    for label in NAMED:
        assert label in page.split(".SH KEY NAMES")[1].split(".SH")[0] or label.startswith("F"), label


def test_the_example_is_a_valid_configuration(tmp_path: Path) -> None:
    example = _text().split(".SH EXAMPLES\n.nf\n")[1].split(".fi")[0].replace("\\-", "-")
    path = tmp_path / "config.toml"
    path.write_text(example)
    config = load(path)
    settings = console_settings(config)
    assert config.theme == "linux" and config.clipboard == "osc52" and config.dock_position == "right"
    assert settings.keymap.resolve("ctrl n", "jobs") == "move down"
    assert settings.keymap.resolve("f4", "queues") == "state scheduled"
    assert settings.keymap.resolve("ctrl r", "queues") == "tenant-sla.refresh"
