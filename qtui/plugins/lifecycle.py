"""What enabling, configuring and removing a plugin changes, shared by the console and `qtui plugin`.

The console (:class:`~qtui.plugins.service.PluginService`) and the command line change the same
files: ``plugins.toml`` (which plugins are enabled), ``plugin-settings.toml`` (the operator's
setting values), the plugin's storage and the permission decisions. A running console notices
changes to these files each time it polls its backend and applies
them (starts and stops plugins, delivers new settings), so both ways of changing them agree.
The audit log is never changed here: it is the record of what happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from qtui.files.tomlfile import Problem
from qtui.plugins.bundles.catalog import Origin, installed_from
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import Manifest
from qtui.plugins.runtime.running import Running, read_running, summary
from qtui.plugins.runtime.settings import SettingsStore, from_text
from qtui.plugins.runtime.storage import PluginStorage
from qtui.plugins.trust.enabled import EnabledStore
from qtui.plugins.trust.permissions import PermissionStore

__all__ = ["Forgotten", "Status", "assignments", "declared_settings", "forget", "status"]


@attrs.frozen
class Forgotten:
    """What :func:`forget` cleared."""

    enabled: bool  # it was enabled
    settings: bool  # it had stored setting values
    storage: bool  # it had stored data
    decisions: int  # permission decision records dropped

    def describe(self) -> list[str]:
        """What was cleared, in words ("enabled state", "settings", ...)."""
        done = [what for what, cleared in (("enabled state", self.enabled), ("settings", self.settings),
                                           ("stored data", self.storage)) if cleared]
        if self.decisions:
            done.append(f"{self.decisions} permission decision record{'s' if self.decisions != 1 else ''}")
        return done


def forget(name: str, *, enabled: EnabledStore | None = None, settings: SettingsStore | None = None,
           storage_dir: Path | None = None, permissions: PermissionStore | None = None) -> Forgotten:
    """Clear every trace of plugin `name` but the audit log: it is no longer enabled, and its
    setting values, storage and permission decisions are gone (installed again, it asks again)."""
    enabled = enabled or EnabledStore()
    was_enabled = name in enabled.load()
    if was_enabled:
        enabled.set(name, False)
    return Forgotten(
        enabled=was_enabled,
        settings=(settings or SettingsStore()).forget(name),
        storage=PluginStorage(name, storage_dir).delete(),
        decisions=(permissions or PermissionStore()).forget_plugin(name),
    )


def assignments(manifest: Manifest, items: Iterable[str]) -> dict[str, Any]:
    """The setting changes written as ``KEY=VALUE``, read as the console's editor reads them.

    Raises ValueError naming the key, with the message the console shows for the same mistake.
    Values are checked against the schema when saved (:meth:`SettingsStore.save`).
    """
    changes: dict[str, Any] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals:
            raise ValueError(f"{item}: not KEY=VALUE")
        setting = manifest.setting(key)
        if setting is None:
            raise ValueError(f"{key}: {manifest.name} has no such setting ({declared_settings(manifest)})")
        try:
            changes[key] = setting.validate(from_text(setting, text))
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return changes


def declared_settings(manifest: Manifest) -> str:
    """'settings: a, b' or 'it has no settings', for messages."""
    names = [s.name for s in manifest.settings]
    return f"settings: {', '.join(names)}" if names else "it has no settings"


@attrs.frozen
class Status:
    """A plugin as `qtui plugin list` and `info` show it."""

    enabled: bool
    state: str  # running, waiting, errored, quarantined, starting, or stopped (in no console)
    reason: str | None
    consoles: int  # consoles running it now
    settings: Mapping[str, Any]  # current values: the operator's over the manifest's defaults
    problems: tuple[Problem, ...]  # stored setting values the schema refuses (defaults used)
    origin: Origin | None  # where the user's install came from, if known

    @property
    def installed_from(self) -> str:
        """catalog, folder or archive for the user's installs; else where qtui found it."""
        if self.origin is not None:
            return self.origin.kind
        return "-"


def status(plugin: Plugin, *, enabled: Sequence[str], running: Mapping[str, list[Running]] | None = None,
           settings: SettingsStore | None = None) -> Status:
    """`plugin`'s enabled state, its state in the running consoles, settings and origin."""
    consoles = (running if running is not None else read_running()).get(plugin.name, [])
    shown = summary([c for c in consoles if c.version == str(plugin.manifest.version)] or consoles)
    values, problems = (settings or SettingsStore()).values(plugin.manifest)
    origin = installed_from(plugin.folder) if plugin.source is Source.USER else None
    return Status(
        enabled=plugin.name in enabled,
        state=shown.state if shown else "stopped",
        reason=shown.reason if shown else None,
        consoles=len(consoles),
        settings=values,
        problems=tuple(problems),
        origin=origin,
    )
