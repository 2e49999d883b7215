"""The console's plugin help topics: their names, titles and the documentation sections they show.

Plain data, apart from the documentation itself (:mod:`.docs`), so the console can offer the
topic names without loading the plugin system.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Topic:
    """A help topic of the console: a title and the sections it shows."""

    title: str
    sections: tuple[str, ...]


#: The console's plugin help topics (`:help NAME`), the same material as the man pages.
TOPICS: dict[str, Topic] = {
    "plugins": Topic("Writing Lua plugins (qtui-lua(7))", ("GUIDE", "LIMITS", "TESTING", "COMPATIBILITY", "EXAMPLES")),
    "api": Topic("The plugin API (qtui-lua(7))", ("FUNCTIONS", "LIBRARY", "CALLBACKS", "TYPES", "STYLES")),
    "events": Topic("Plugin events (qtui-lua(7))", ("EVENTS",)),
    "capabilities": Topic("Plugin capabilities (qtui-lua(7))", ("CAPABILITIES",)),
    "manifest": Topic("Plugin folders and manifest.toml (qtui-plugin(5))",
                      ("BUNDLE", "MANIFEST", "MANIFEST-EXAMPLE")),
    "catalog": Topic("Enabling, settings, removing, the catalog and the fleet lockfile (qtui-plugin(5))",
                     ("LIFECYCLE", "CATALOG", "LOCKFILE")),
    "permissions": Topic("Plugin permissions, site policy and audit log (qtui-permissions(5))",
                         ("VERDICTS", "PERMISSIONS-FILE", "SCOPED-GRANTS", "SITE-POLICY", "AUDIT-LOG")),
}
