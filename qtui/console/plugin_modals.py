"""Dialogs for plugins: the permission prompt and the settings editor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import urwid

from qtui.console.modal import Modal, boxed
from qtui.plugins.service import (
    Capability,
    Grants,
    Manifest,
    Pending,
    Setting,
    SettingType,
    Verdict,
    setting_from_text,
)
from qtui.sanitize import one_line


class PermissionModal(Modal):
    """Asks the operator to approve or deny each capability a plugin version requests.

    Capabilities decided for an earlier version or code keep their decision and are
    listed as such; only what is new is asked. Nothing is granted by default.
    """

    width = 90

    def __init__(
        self,
        manifest: Manifest,
        pending: Pending,
        on_decide: Callable[[tuple[Capability, ...], tuple[Capability, ...]], None],
        on_later: Callable[[], None],
        *,
        ascii_box: bool,
        current: Grants | None = None,
    ) -> None:
        self.manifest = manifest
        self._on_decide, self._on_later = on_decide, on_later
        self.carried: dict[Capability, bool] = {}
        self.editing = not pending.undecided and current is not None
        if self.editing:
            # Everything is decided: show the decisions so the operator can revoke or grant.
            decided = [e for e in current.all() if e.verdict in (Verdict.GRANTED, Verdict.DENIED)]
            self.asked = [e.capability for e in decided]
            self.approved: dict[Capability, bool] = {e.capability: e.allowed for e in decided}
        else:
            previous = pending.previous
            requested = set(pending.undecided)
            if previous is not None:
                for capability in requested & (previous.granted | previous.denied):
                    self.carried[capability] = capability in previous.granted
            self.asked = [c for c in manifest.permissions if c in requested and c not in self.carried]
            self.approved = {c: False for c in self.asked}
        self.cursor = 0
        self._header = self._header_lines(pending)
        self._rows = urwid.Pile([])
        body = urwid.Pile([*self._header, urwid.Divider(), self._rows, urwid.Divider(), urwid.Text(
            [("key", "space"), " approve/deny  ", ("key", "a"), " approve all  ", ("key", "d"), " deny all  ",
             ("key", "Enter"), " save  ", ("key", "Esc"), " later"], align="center")])
        self.widget = boxed(body, f"Permissions: {one_line(manifest.name)} {manifest.version}",
                            ascii_box=ascii_box, attr="dialog")
        self._draw()

    def _header_lines(self, pending: Pending) -> list[urwid.Widget]:
        if self.editing:
            return [urwid.Text(f"What {one_line(self.manifest.name)} {self.manifest.version} may do "
                               "(untick to revoke):")]
        lines = [urwid.Text(f"{one_line(self.manifest.name)} {self.manifest.version} asks to:")]
        previous = pending.previous
        if previous is not None:
            if pending.code_changed:
                lines.append(urwid.Text(("warn", f"Its code changed since you decided on {previous.version}.")))
            else:
                lines.append(urwid.Text(("warn", f"New version: you decided on {previous.version} before.")))
            if pending.added:
                lines.append(urwid.Text("  new: " + ", ".join(c.value for c in pending.added)))
            if pending.removed:
                lines.append(urwid.Text("  no longer asked: " + ", ".join(c.value for c in pending.removed)))
            for capability, granted in self.carried.items():
                lines.append(urwid.Text(("dim", f"  kept: {capability} {'granted' if granted else 'denied'}")))
        return lines

    def _draw(self) -> None:
        rows = []
        for index, capability in enumerate(self.asked):
            box = "[x]" if self.approved[capability] else "[ ]"
            risk = "DESTRUCTIVE" if capability.destructive else f"{capability.risk} risk"
            markup = [f"{box} {capability.value:<15}", ("dead" if capability.destructive else "dim", f"{risk:<12}"),
                      capability.description]
            rows.append((urwid.AttrMap(urwid.Text(markup), "focus" if index == self.cursor else None),
                         ("pack", None)))
        if not rows:
            empty = "It asks for nothing." if self.editing else "Nothing new to decide: Enter keeps the earlier decisions."
            rows.append((urwid.Text(("dim", empty)),
                         ("pack", None)))
        self._rows.contents = rows

    def handle_key(self, key: str) -> bool:
        if key in ("down", "j") and self.asked:
            self.cursor = min(self.cursor + 1, len(self.asked) - 1)
        elif key in ("up", "k"):
            self.cursor = max(self.cursor - 1, 0)
        elif key == " " and self.asked:
            capability = self.asked[self.cursor]
            self.approved[capability] = not self.approved[capability]
        elif key in ("a", "d"):
            self.approved = {c: key == "a" for c in self.asked}
        elif key == "enter":
            decided = {**self.carried, **self.approved}
            self._on_decide(tuple(c for c, ok in decided.items() if ok), tuple(c for c, ok in decided.items() if not ok))
            return True
        elif key in ("esc", "q"):
            self._on_later()
            return True
        self._draw()
        return False

    def cancel(self) -> None:
        self._on_later()


class SettingsModal(Modal):
    """An editor generated from a plugin's settings schema; values are validated before saving."""

    width = 90

    def __init__(self, manifest: Manifest, values: dict[str, Any],
                 on_save: Callable[[dict[str, Any]], None], *, ascii_box: bool) -> None:
        self.manifest = manifest
        self._on_save = on_save
        self.values = dict(values)
        self.cursor = 0
        self._edits: dict[str, urwid.Edit] = {}
        for setting in manifest.settings:
            if setting.type in (SettingType.STRING, SettingType.NUMBER):
                self._edits[setting.name] = urwid.Edit("", str(values.get(setting.name, setting.default)))
        self.message = urwid.Text("")
        self._rows = urwid.Pile([])
        help_line = urwid.Text([("key", "Up/Down"), " field  ", ("key", "space"), " toggle/cycle  ",
                                ("key", "Enter"), " save  ", ("key", "Esc"), " cancel"], align="center")
        body = urwid.Pile([self._rows, urwid.Divider(), self.message, help_line])
        self.widget = boxed(body, f"Settings: {one_line(manifest.name)}", ascii_box=ascii_box)
        self._draw()

    def _draw(self) -> None:
        rows = []
        if not self.manifest.settings:
            rows.append((urwid.Text(("dim", "This plugin has no settings.")), ("pack", None)))
        for index, setting in enumerate(self.manifest.settings):
            label = urwid.Text(f"{setting.name:<20}")
            value = self._value_widget(setting)
            line = urwid.Columns([(21, label), value])
            help_text = urwid.Text(("dim", f"  {one_line(setting.description)} ({self._kind(setting)})"))
            rows.append((urwid.AttrMap(line, "focus" if index == self.cursor else None), ("pack", None)))
            rows.append((help_text, ("pack", None)))
        self._rows.contents = rows

    @staticmethod
    def _kind(setting: Setting) -> str:
        if setting.type is SettingType.CHOICE:
            return "one of " + ", ".join(setting.choices)
        if setting.type is SettingType.NUMBER and (setting.minimum is not None or setting.maximum is not None):
            return f"number {setting.minimum if setting.minimum is not None else ''}..{setting.maximum if setting.maximum is not None else ''}"
        return str(setting.type)

    def _value_widget(self, setting: Setting) -> urwid.Widget:
        if setting.name in self._edits:
            return self._edits[setting.name]
        value = self.values.get(setting.name, setting.default)
        if setting.type is SettingType.BOOLEAN:
            return urwid.Text("[x] yes" if value else "[ ] no")
        return urwid.Text(f"< {value} >")

    def _setting(self) -> Setting | None:
        settings = self.manifest.settings
        return settings[self.cursor] if settings else None

    def handle_key(self, key: str) -> bool:
        setting = self._setting()
        if key in ("down", "tab") and setting is not None:
            self.cursor = (self.cursor + 1) % len(self.manifest.settings)
        elif key in ("up", "shift tab") and setting is not None:
            self.cursor = (self.cursor - 1) % len(self.manifest.settings)
        elif key == "esc":
            return True
        elif key == "enter":
            return self._save()
        elif setting is not None and setting.name in self._edits:
            self._edits[setting.name].keypress((40,), key)
        elif setting is not None and key == " ":
            current = self.values.get(setting.name, setting.default)
            if setting.type is SettingType.BOOLEAN:
                self.values[setting.name] = not current
            elif setting.type is SettingType.CHOICE:
                choices = list(setting.choices)
                self.values[setting.name] = choices[(choices.index(current) + 1) % len(choices)]
        self._draw()
        return False

    def _save(self) -> bool:
        changes: dict[str, Any] = {}
        for setting in self.manifest.settings:
            value: Any = self.values.get(setting.name, setting.default)
            try:
                if setting.name in self._edits:
                    value = setting_from_text(setting, self._edits[setting.name].edit_text)
                changes[setting.name] = setting.validate(value)
            except ValueError as exc:
                self.message.set_text(("error", f"{setting.name}: {exc}"))
                return False
        self._on_save(changes)
        return True
