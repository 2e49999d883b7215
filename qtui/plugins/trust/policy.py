"""The site administrator's policy: capabilities forbidden to every plugin or to named ones.

**Site policy** lives in ``policy.toml`` in the system config dir (:func:`policy_path`)::

    forbid = ["jobs.purge"]         # for every plugin; "*" forbids every capability
    [scopes."jobs.requeue"]         # bounds every plugin's grant (see qtui.plugins.trust.scope)
    queues = ["email*"]
    rate = "1000/h"
    [plugins.tenant-sla]
    forbid = ["jobs.enqueue"]       # for this plugin only
    [plugins.tenant-sla.scopes."jobs.peek"]
    queues = ["tenant-*"]

The policy wins over the operator's grants: what it forbids stays forbidden, and its scopes
bound whatever the operator granted. A policy file that cannot be read forbids everything
(:meth:`SitePolicy.forbidding_everything`): a broken policy never lets more through.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from qtui import paths
from qtui.files.tomlfile import FieldPath, FileProblems, Reporter, read_toml, show, type_name
from qtui.plugins.bundles.capabilities import Capability, known_names
from qtui.plugins.bundles.manifest import PLUGIN_NAME
from qtui.plugins.trust.scope import Scope, read_scopes

POLICY_FILE = "policy.toml"
FORBID_ALL = "*"
MAX_FILE_BYTES = 4 * 1024 * 1024


def policy_path() -> Path:
    """Where the site administrator's policy is read from."""
    return paths.system_config_dir() / POLICY_FILE


class PolicyFileError(FileProblems):
    """policy.toml is unreadable or invalid; nothing in it is trusted."""


@attrs.frozen
class SitePolicy:
    """Capabilities the site administrator forbids, for everyone or for named plugins."""

    path: Path | None = None  # where it was read from, for reasons shown to the operator
    forbid: frozenset[Capability] = frozenset()
    plugin_forbid: Mapping[str, frozenset[Capability]] = attrs.field(factory=dict)
    scopes: Mapping[Capability, Scope] = attrs.field(factory=dict)
    plugin_scopes: Mapping[str, Mapping[Capability, Scope]] = attrs.field(factory=dict)

    def forbids(self, plugin: str, capability: Capability) -> bool:
        return capability in self.forbid or capability in self.plugin_forbid.get(plugin, ())

    def scopes_of(self, plugin: str, capability: Capability) -> tuple[Scope, ...]:
        """The policy's scopes on `plugin`'s use of `capability`: for every plugin, then its own."""
        found = (self.scopes.get(capability), self.plugin_scopes.get(plugin, {}).get(capability))
        return tuple(s for s in found if s is not None)

    @classmethod
    def forbidding_everything(cls, path: Path | None) -> SitePolicy:
        """The policy to apply when the policy file cannot be read: fail closed."""
        return cls(path, frozenset(Capability))


def load_policy(path: Path | None = None) -> SitePolicy:
    """Read the site policy (default :func:`policy_path`); a missing file forbids nothing.

    Raises PolicyFileError if the file exists but is invalid; a console should then
    show the error and run plugins under :meth:`SitePolicy.forbidding_everything`.
    """
    path = path if path is not None else policy_path()
    if not path.exists():
        return SitePolicy(path)
    try:
        data, text = read_toml(path, max_bytes=MAX_FILE_BYTES)
    except FileProblems as e:
        raise PolicyFileError(e.problems) from None
    reader = _PolicyReader(path, text)
    doc = reader.table(data, (), ["forbid", "scopes", "plugins"])
    forbid = reader.forbid_list(doc, ("forbid",))
    scopes = read_scopes(reader, doc["scopes"], ("scopes",)) if "scopes" in doc else {}
    plugin_forbid = {}
    plugin_scopes = {}
    plugins = doc.get("plugins", {})
    if not isinstance(plugins, dict):
        reader.error(("plugins",), f"must be a table of plugins, not {type_name(plugins)}")
        plugins = {}
    for name, table in plugins.items():
        if not PLUGIN_NAME.fullmatch(name):
            reader.error(("plugins", name), f"{show(name)} is not a valid plugin name")
        table = reader.table(table, ("plugins", name), ["forbid", "scopes"])
        plugin_forbid[name] = reader.forbid_list(table, ("plugins", name, "forbid"))
        if "scopes" in table:
            plugin_scopes[name] = read_scopes(reader, table["scopes"], ("plugins", name, "scopes"))
    if reader.problems:
        raise PolicyFileError(reader.sorted_problems())
    return SitePolicy(path, forbid, plugin_forbid, scopes, plugin_scopes)


class _PolicyReader(Reporter):
    def forbid_list(self, table: Mapping[str, Any], path: FieldPath) -> frozenset[Capability]:
        value = table.get(path[-1], [])
        if not isinstance(value, list):
            self.error(path, f"must be an array of capability names, not {type_name(value)}")
            return frozenset()
        found: set[Capability] = set()
        for i, item in enumerate(value):
            if item == FORBID_ALL:
                found.update(Capability)
                continue
            try:
                found.add(Capability(item))
            except ValueError:
                self.error(
                    path + (i,), f"unknown capability {show(item)} (known: {known_names()}, or \"*\")"
                )
        return frozenset(found)
