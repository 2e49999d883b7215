"""Dialogs for plugins: the permission prompt and the settings editor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import urwid

from qtui.console.modal import Modal, TypeAheadGuard, boxed
from qtui.plugins.service import (
    Capability,
    Grants,
    Manifest,
    Pending,
    Review,
    Scope,
    Setting,
    SettingType,
    Verdict,
    setting_from_text,
)
from qtui.sanitize import one_line

#: Lines the diff view shows at once.
DIFF_ROWS = 12
#: Changed lines calling gated functions listed in the dialog itself (the diff view has all).
SHOWN_CALLS = 4


class PermissionModal(Modal):
    """Asks the operator to approve or deny each capability a plugin version requests.

    Nothing is approved by default, not even what an earlier version or code was granted: that
    is shown, with what changed in the code since (``v`` shows the diff). Approving a capability
    that changes queues takes a second step (space, then ``y``). The dialog opens by itself, so
    it drops keys until it has been on screen for a moment (its ``guard``).
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
        review: Review | None = None,
    ) -> None:
        self.manifest = manifest
        self._on_decide, self._on_later = on_decide, on_later
        self.review = review
        self.editing = not pending.undecided and current is not None
        if self.editing:
            assert current is not None
            # Everything is decided: show the decisions so the operator can revoke or grant.
            decided = [e for e in current.all() if e.verdict in (Verdict.GRANTED, Verdict.DENIED)]
            self.asked = [e.capability for e in decided]
            self.approved: dict[Capability, bool] = {e.capability: e.allowed for e in decided}
        else:
            self.asked = [c for c in manifest.permissions if c in pending.undecided]
            self.approved = {c: False for c in self.asked}
        self._scopes = self._scopes_shown(pending, current)
        self.arming: Capability | None = None  # the capability waiting for the second step (y)
        self.viewing_diff = False
        self.cursor = 0
        self._message = urwid.Text("")
        self._rows = urwid.Pile([])
        self._diff = urwid.ListBox(urwid.SimpleFocusListWalker([urwid.Text(_diff_markup(line))
                                                                for line in (review.diff if review else ())]))
        self._keys = [("key", "space"), " approve/deny  ", ("key", "a"), " approve all  ", ("key", "d"),
                      " deny all  ", ("key", "Enter"), " save  ", ("key", "Esc"), " later"]
        if review is not None and review.diff:
            self._keys += ["  ", ("key", "v"), " diff"]
        self._legend = urwid.Text("", align="center")
        self._body = urwid.Pile([*self._header_lines(pending), urwid.Divider(), self._rows, urwid.Divider(),
                                 self._message, self._legend])
        self.guard = TypeAheadGuard(self._body, self._legend, self._keys)
        self.widget = boxed(self.guard, f"Permissions: {one_line(manifest.name)} {manifest.version}",
                            ascii_box=ascii_box, attr="dialog")
        self._draw()

    @staticmethod
    def _scopes_shown(pending: Pending, current: Grants | None) -> dict[Capability, list[str]]:
        """The bounds each capability will have if granted: the operator's (kept) and the site's."""
        shown: dict[Capability, list[str]] = {}
        record = current.record if current is not None else None
        source = record if record is not None else pending.previous  # bounds carry over to new code
        mine: dict[Capability, Scope] = dict(source.scopes) if source is not None else {}
        for capability, scope in mine.items():
            shown.setdefault(capability, []).append(f"{scope} (your grant)")
        if current is not None:
            for capability in current.manifest.permissions:
                for scope in current.policy.scopes_of(current.manifest.name, capability):
                    shown.setdefault(capability, []).append(f"{scope} (site policy)")
        return shown

    def _header_lines(self, pending: Pending) -> list[urwid.Widget]:
        name = f"{one_line(self.manifest.name)} {self.manifest.version}"
        if self.editing:
            lines = [urwid.Text(f"What {name} may do (untick to revoke):")]
        else:
            lines = [urwid.Text(f"{name} asks to:")]
            previous = pending.previous
            if previous is not None:
                change = (f"Its code changed since you decided on {previous.version}"
                          if pending.code_changed else f"New version: you decided on {previous.version} before")
                lines.append(urwid.Text(("warn", f"{change}. Nothing carries over: decide again.")))
                before = ", ".join(sorted(c.value for c in previous.granted)) or "nothing"
                lines.append(urwid.Text(("dim", f"  then granted: {before}")))
                if pending.added:
                    lines.append(urwid.Text("  new: " + ", ".join(c.value for c in pending.added)))
                if pending.removed:
                    lines.append(urwid.Text("  no longer asked: " + ", ".join(c.value for c in pending.removed)))
        return lines + self._review_lines()

    def _review_lines(self) -> list[urwid.Widget]:
        review = self.review
        if review is None or (not review.changes and review.granted is not None):
            return []
        if review.granted is None:
            return [urwid.Text(("dim", "No copy of earlier granted code is kept: review all of it."))]
        files = ", ".join(one_line(str(c)) for c in review.changes)
        lines = [urwid.Text(["Changed since the code you granted: ", ("warn", files)])]
        calls = review.changed_calls
        for call in calls[:SHOWN_CALLS]:
            lines.append(urwid.Text(("dead", f"  {call.gate}: {one_line(str(call), 60)}"), wrap="clip"))
        if len(calls) > SHOWN_CALLS:
            lines.append(urwid.Text(("dim", f"  and {len(calls) - SHOWN_CALLS} more changed lines using capabilities")))
        elif not calls:
            lines.append(urwid.Text(("dim", "  no changed line calls a function a capability gates")))
        return lines

    def _draw(self) -> None:
        if self.viewing_diff:
            self._rows.contents = [(urwid.BoxAdapter(self._diff, DIFF_ROWS), ("pack", None))]
            return
        rows = []
        for index, capability in enumerate(self.asked):
            box = "[x]" if self.approved[capability] else "[ ]"
            risk = "DESTRUCTIVE" if capability.destructive else f"{capability.risk} risk"
            markup = [f"{box} {capability.value:<15}", ("dead" if capability.changes_queues else "dim", f"{risk:<12}"),
                      capability.description]
            rows.append((urwid.AttrMap(urwid.Text(markup), "focus" if index == self.cursor else None),
                         ("pack", None)))
            for scope in self._scopes.get(capability, ()):
                rows.append((urwid.Text(("dim", f"      scope: {one_line(scope)}")), ("pack", None)))
        if not rows:
            empty = "It asks for nothing." if self.editing else "Nothing new to decide: Enter keeps the earlier decisions."
            rows.append((urwid.Text(("dim", empty)), ("pack", None)))
        self._rows.contents = rows

    def handle_key(self, key: str) -> bool:
        if not self.takes_keys():
            return False
        if self.viewing_diff:
            return self._diff_key(key)
        if self.arming is not None:  # the second step: only y approves
            capability, self.arming = self.arming, None
            if key == "y":
                self.approved[capability] = True
                self._message.set_text(("warn", f"{capability} approved"))
            else:
                self._message.set_text(("dim", f"{capability} left unapproved"))
            self._draw()
            return False
        self._message.set_text("")
        if key in ("down", "j") and self.asked:
            self.cursor = min(self.cursor + 1, len(self.asked) - 1)
        elif key in ("up", "k"):
            self.cursor = max(self.cursor - 1, 0)
        elif key == " " and self.asked:
            self._toggle(self.asked[self.cursor])
        elif key == "a":
            for capability in self.asked:
                self.approved[capability] = self.approved[capability] or not capability.changes_queues
            held = [c.value for c in self.asked if c.changes_queues and not self.approved[c]]
            if held:
                self._message.set_text(("warn", f"{', '.join(held)} change queues: approve each with space, then y"))
        elif key == "d":
            self.approved = {c: False for c in self.asked}
        elif key == "v" and self.review is not None and self.review.diff:
            self.viewing_diff = True
            self._legend.set_text([("key", "j/k"), " scroll  ", ("key", "v"), "/", ("key", "Esc"), " back"])
        elif key == "enter":
            self._on_decide(tuple(c for c, ok in self.approved.items() if ok),
                            tuple(c for c, ok in self.approved.items() if not ok))
            return True
        elif key in ("esc", "q"):
            self._on_later()
            return True
        self._draw()
        return False

    def _toggle(self, capability: Capability) -> None:
        if self.approved[capability] or not capability.changes_queues:
            self.approved[capability] = not self.approved[capability]
            return
        self.arming = capability
        self._message.set_text(("warn", f"Approve {capability}: it may {capability.description}. "
                                        "Press y to approve; any other key leaves it unapproved."))

    def _diff_key(self, key: str) -> bool:
        if key in ("v", "esc", "q"):
            self.viewing_diff = False
            self._legend.set_text(self._keys)
        else:
            command = {"j": "down", "k": "up", "down": "down", "up": "up", "page down": "page down",
                       "page up": "page up", " ": "page down"}.get(key)
            if command is not None:
                self._diff.keypress((80, DIFF_ROWS), command)
        self._draw()
        return False

    def cancel(self) -> None:
        self._on_later()


def _diff_markup(line: str) -> Any:
    text = one_line(line)
    if line.startswith(("+++", "---")):
        return ("label", text)
    if line.startswith("+"):
        return ("ok", text)
    if line.startswith("-"):
        return ("dead", text)
    return ("dim", text) if line.startswith("@@") else text


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
