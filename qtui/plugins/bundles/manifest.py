"""Plugin bundles and their ``manifest.toml``: parsing and validation into attrs classes.

A plugin is a folder holding ``manifest.toml``, Lua source files (the entry file, ``init.lua``
unless the manifest says otherwise, may ``require`` other modules of the folder) and optional
assets. Files and folders whose names start with ``.``, and editor temporary files (see
:func:`is_ignored_name`), are not part of a bundle: they are neither hashed nor loadable.

Example::

    name = "tenant-sla"
    version = "1.2.0"
    description = "Time to completion per tenant against the SLA"
    author = "Ops team <ops@example.com>"
    api = "1"
    entry = "init.lua"
    permissions = ["stats.read", "timers", "notify", "commands"]

    [limits]                  # each optional; host defaults below, refused above host maxima
    memory_mib = 16
    instructions_per_call = 1000000
    cpu_ms_per_call = 50

    [panel]                   # optional: plugins without a panel only notify or add commands
    title = "Tenant SLA"
    rows = 8                  # preferred height
    width = 60                # preferred width in columns
    placement = "right"       # bottom | top | left | right

    [settings.threshold_s]
    type = "number"           # string | number | boolean | choice
    default = 300
    description = "Seconds before a job counts as late"
    min = 1
    max = 86400

    [settings.view]
    type = "choice"
    choices = ["table", "bars"]
    default = "table"
    description = "How to draw the tenants"

    [commands.late]           # optional: commands, with a default key (needs "commands")
    help = "Show the late jobs of the tenant under the cursor"
    key = "L"                 # as written in config.toml: "L", "Ctrl-L", "F5"
    view = "jobs"             # where the key works: all (default), queues, jobs, dead, ...

Every problem is collected (not just the first) into a :class:`ManifestError` whose lines read
``plugins/tenant-sla/manifest.toml:7: permissions[2]: unknown capability 'jobs.delete' (...)``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from qtui.files.tomlfile import (
    FieldPath,
    FileProblems,
    Reporter,
    parse_toml,
    read_toml,
    show,
    type_name,
)
from qtui.keynames import key_label, parse_key
from qtui.plugins.bundles.capabilities import Capability, known_names

#: The plugin API this qtui implements (semantic version; plugins name only the major).
HOST_API_VERSION = "1.1.0"
#: The API majors a manifest's ``api`` may name.
SUPPORTED_API_MAJORS = frozenset({1})

MANIFEST_FILE = "manifest.toml"
DEFAULT_ENTRY = "init.lua"
MAX_MANIFEST_BYTES = 64 * 1024

PANEL_MAX_ROWS = 200
PANEL_MIN_WIDTH, PANEL_MAX_WIDTH = 10, 1000

#: What a plugin name looks like: lowercase words joined by hyphens.
PLUGIN_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", re.ASCII)
_NAME_MAX = 64
_SETTING_NAME = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
#: What a command name looks like (`:PLUGIN.NAME` on the console's command line).
COMMAND_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}", re.ASCII)
#: The most commands one plugin may have.
MAX_COMMANDS = 32
#: Where a command's key works: every view ("all"), or one of the console's views.
COMMAND_VIEWS = ("all", "queues", "jobs", "dead", "workers", "plugins", "detail")
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)
_VERSION_MAX = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_EDITOR_TEMP = re.compile(r".*(~|\.sw[a-p]|\.tmp|\.bak|\.orig|\.rej)|#.*#", re.ASCII)


def is_ignored_name(name: str) -> bool:
    """True for file or folder names that are not part of a bundle: hidden and editor temp files."""
    return name.startswith(".") or bool(_EDITOR_TEMP.fullmatch(name)) or name == "__pycache__"


#: Top-level folders of a plugin that hold its tests, not its code: not part of the bundle,
#: so editing a spec neither changes the code hash nor asks the operator again.
NOT_BUNDLED = frozenset({"spec"})


def left_out_because(relative: str) -> str | None:
    """Why a bundle leaves out the file at POSIX path `relative` (inside the plugin), or None."""
    parts = PurePosixPath(relative).parts
    if any(is_ignored_name(p) for p in parts):
        return "a hidden or temporary file name"
    if parts and parts[0] in NOT_BUNDLED:
        return f"under {parts[0]}/, which holds the plugin's tests"
    return None


# -- versions -----------------------------------------------------------------------------


@attrs.frozen(order=False)
class Version:
    """A semantic version (semver.org 2.0.0). Ordering follows semver precedence, which ignores
    build metadata, so two versions differing only in build are neither < nor > each other."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``, raising ValueError if it is not one."""
        found = _SEMVER.fullmatch(text) if len(text) <= _VERSION_MAX else None
        if found is None:
            raise ValueError(
                f"{text[:_VERSION_MAX]!r} is not a semantic version (MAJOR.MINOR.PATCH, "
                "e.g. 1.4.0 or 2.0.0-rc.1)"
            )
        major, minor, patch, pre, build = found.groups()
        return cls(
            int(major),
            int(minor),
            int(patch),
            tuple(pre.split(".")) if pre else (),
            tuple(build.split(".")) if build else (),
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def _precedence(self) -> tuple[Any, ...]:
        # A release ranks above its prereleases; numeric identifiers rank below alphanumeric
        # ones and compare as numbers; a longer prerelease ranks above its prefix.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: Version) -> bool:
        return self._precedence() < other._precedence()

    def __le__(self, other: Version) -> bool:
        return self._precedence() <= other._precedence()

    def __gt__(self, other: Version) -> bool:
        return self._precedence() > other._precedence()

    def __ge__(self, other: Version) -> bool:
        return self._precedence() >= other._precedence()


# -- manifest data ------------------------------------------------------------------------


@attrs.frozen
class Limits:
    """Per-plugin resource limits; the defaults are the host's defaults."""

    memory_mib: int = 16
    instructions_per_call: int = 1_000_000
    cpu_ms_per_call: int = 250  # CPU time of the plugin's own thread (see LuaSandbox)

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * 1024 * 1024


#: The largest limits a manifest may ask for.
MAX_LIMITS = Limits(memory_mib=128, instructions_per_call=50_000_000, cpu_ms_per_call=1000)

#: Former names of `[limits]` fields, still read: the per-call time limit was wall-clock time
#: before it counted the plugin's own CPU time.
LIMIT_ALIASES = {"wall_ms_per_call": "cpu_ms_per_call"}


class Placement(enum.StrEnum):
    """Where a panel would like to sit; the console's layout has the last word."""

    BOTTOM = "bottom"
    TOP = "top"
    LEFT = "left"
    RIGHT = "right"


@attrs.frozen
class Panel:
    """How the plugin's panel would like to be shown."""

    title: str
    rows: int | None = None  # preferred height in rows
    width: int | None = None  # preferred width in columns
    placement: Placement = Placement.BOTTOM


class SettingType(enum.StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"


SettingValue = str | int | float | bool
_MAX_SETTING_TEXT = 1000


@attrs.frozen
class Setting:
    """One operator-adjustable setting a plugin declares."""

    name: str
    type: SettingType
    default: SettingValue
    description: str = ""
    choices: tuple[str, ...] = ()  # for choice settings
    minimum: int | float | None = None  # for number settings
    maximum: int | float | None = None

    def validate(self, value: object) -> SettingValue:
        """Return `value` if this setting accepts it, else raise ValueError saying why."""
        match self.type:
            case SettingType.STRING:
                if not isinstance(value, str):
                    raise ValueError(f"must be a string, not {type_name(value)}")
                _check_text(value, _MAX_SETTING_TEXT, allow_empty=True)
            case SettingType.BOOLEAN:
                if not isinstance(value, bool):
                    raise ValueError(f"must be a boolean, not {type_name(value)}")
            case SettingType.CHOICE:
                if value not in self.choices or not isinstance(value, str):
                    raise ValueError(f"{show(value)} is not one of {', '.join(self.choices)}")
            case SettingType.NUMBER:
                _check_number(value)
                assert isinstance(value, int | float)
                if self.minimum is not None and value < self.minimum:
                    raise ValueError(f"{value} is below the minimum {self.minimum}")
                if self.maximum is not None and value > self.maximum:
                    raise ValueError(f"{value} is above the maximum {self.maximum}")
        return value  # type: ignore[return-value]


@attrs.frozen
class CommandSpec:
    """A command the manifest declares: registered when the plugin starts, with a default key."""

    name: str
    help: str
    key: str | None = None  # urwid's name of the default key (qtui.keynames)
    view: str = "all"  # one of COMMAND_VIEWS


@attrs.frozen
class Manifest:
    """A validated plugin manifest."""

    name: str
    version: Version
    description: str
    api: int  # host API major the plugin targets
    author: str = ""
    entry: str = DEFAULT_ENTRY  # relative POSIX path of the entry file inside the bundle
    permissions: tuple[Capability, ...] = ()
    limits: Limits = Limits()
    panel: Panel | None = None
    settings: tuple[Setting, ...] = ()
    commands: tuple[CommandSpec, ...] = ()

    def setting(self, name: str) -> Setting | None:
        """The setting called `name`, if declared."""
        return next((s for s in self.settings if s.name == name), None)

    def to_toml(self) -> dict[str, Any]:
        """The manifest as a TOML document (for tomli_w); parsing it gives back an equal Manifest."""
        doc: dict[str, Any] = {
            "name": self.name,
            "version": str(self.version),
            "description": self.description,
            "author": self.author,
            "api": str(self.api),
            "entry": self.entry,
            "permissions": [c.value for c in self.permissions],
            "limits": attrs.asdict(self.limits),
        }
        if self.panel is not None:
            panel: dict[str, Any] = {"title": self.panel.title, "placement": self.panel.placement.value}
            if self.panel.rows is not None:
                panel["rows"] = self.panel.rows
            if self.panel.width is not None:
                panel["width"] = self.panel.width
            doc["panel"] = panel
        if self.settings:
            doc["settings"] = {s.name: _setting_to_toml(s) for s in self.settings}
        if self.commands:
            doc["commands"] = {c.name: _command_to_toml(c) for c in self.commands}
        return doc


def _command_to_toml(command: CommandSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"help": command.help, "view": command.view}
    if command.key is not None:
        out["key"] = key_label(command.key)
    return out


def _setting_to_toml(setting: Setting) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": setting.type.value,
        "default": setting.default,
        "description": setting.description,
    }
    if setting.type is SettingType.CHOICE:
        out["choices"] = list(setting.choices)
    if setting.minimum is not None:
        out["min"] = setting.minimum
    if setting.maximum is not None:
        out["max"] = setting.maximum
    return out


class ManifestError(FileProblems):
    """A manifest (or its bundle) is invalid; `problems` lists every problem found."""


# -- loading and validation ---------------------------------------------------------------


def load_manifest(folder: Path) -> Manifest:
    """Read and validate ``folder/manifest.toml``, including that its entry file exists."""
    path = folder / MANIFEST_FILE
    try:
        data, text = read_toml(path, max_bytes=MAX_MANIFEST_BYTES)
    except FileProblems as e:
        raise ManifestError(e.problems) from None
    return _Validator(path, text, folder).manifest(data)


def parse_manifest(text: str, *, file: Path, folder: Path | None = None) -> Manifest:
    """Validate manifest `text` read from `file`; the entry file is checked only if `folder` is given."""
    try:
        data = parse_toml(text, file)
    except FileProblems as e:
        raise ManifestError(e.problems) from None
    return _Validator(file, text, folder).manifest(data)


_TOP_FIELDS = (
    "name", "version", "description", "author", "api", "entry",
    "permissions", "limits", "panel", "settings", "commands",
)
_COMMAND_FIELDS = ("help", "key", "view")
_PANEL_FIELDS = ("title", "rows", "width", "placement")
_SETTING_FIELDS = ("type", "default", "description", "choices", "min", "max")
_MISSING = object()


def _check_text(value: str, max_len: int, *, allow_empty: bool) -> None:
    if not value and not allow_empty:
        raise ValueError("must not be empty")
    if len(value) > max_len:
        raise ValueError(f"is longer than {max_len} characters")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")


def _check_number(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")


class _Validator(Reporter):
    """Checks one manifest document, collecting every problem before raising."""

    def __init__(self, file: Path, text: str, folder: Path | None) -> None:
        super().__init__(file, text)
        self.folder = folder

    def text_field(
        self, table: Mapping[str, Any], path: FieldPath, *, max_len: int,
        required: bool = False, default: str = "", allow_empty: bool = True,
    ) -> str:
        value = table.get(path[-1], _MISSING)
        if value is _MISSING:
            if required:
                self.error(path, "required field is missing")
            return default
        if not isinstance(value, str):
            self.error(path, f"must be a string, not {type_name(value)}")
            return default
        try:
            _check_text(value, max_len, allow_empty=allow_empty)
        except ValueError as e:
            self.error(path, str(e))
            return default
        return value

    def int_field(self, table: Mapping[str, Any], path: FieldPath, low: int, high: int) -> int | None:
        value = table.get(path[-1], _MISSING)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"must be an integer, not {type_name(value)}")
        elif not low <= value <= high:
            self.error(path, f"must be between {low} and {high}, not {value}")
        else:
            return value
        return None

    def manifest(self, data: dict[str, Any]) -> Manifest:
        doc = self.table(data, (), _TOP_FIELDS)
        name = self.text_field(doc, ("name",), max_len=_NAME_MAX, required=True, allow_empty=False)
        if name and not PLUGIN_NAME.fullmatch(name):
            self.error(
                ("name",),
                f"{name!r} is not a valid plugin name (lowercase letters, digits and single "
                "hyphens, starting with a letter)",
            )
        version = self.version(doc)
        description = self.text_field(
            doc, ("description",), max_len=300, required=True, allow_empty=False
        )
        author = self.text_field(doc, ("author",), max_len=200)
        api = self.api(doc)
        entry = self.entry(doc)
        permissions = self.permissions(doc)
        limits = self.limits(doc)
        panel = self.panel(doc, name)
        settings = self.settings(doc)
        commands = self.commands(doc, permissions)
        if self.problems:
            raise ManifestError(self.sorted_problems())
        assert version is not None and api is not None
        return Manifest(
            name=name, version=version, description=description, api=api, author=author,
            entry=entry, permissions=permissions, limits=limits, panel=panel, settings=settings,
            commands=commands,
        )

    def commands(self, doc: Mapping[str, Any], permissions: tuple[Capability, ...]) -> tuple[CommandSpec, ...]:
        if "commands" not in doc:
            return ()
        value = doc["commands"]
        if not isinstance(value, dict):
            self.error(("commands",), f"must be a table of commands, not {type_name(value)}")
            return ()
        if value and Capability.COMMANDS not in permissions:
            self.error(("commands",), "commands need the commands capability: add \"commands\" to permissions")
        if len(value) > MAX_COMMANDS:
            self.error(("commands",), f"at most {MAX_COMMANDS} commands")
            return ()
        found: list[CommandSpec] = []
        for name, spec in value.items():
            command = self.command(name, spec)
            if command is None:
                continue
            clash = next((c for c in found if command.key is not None and c.key == command.key
                          and (c.view == command.view or "all" in (c.view, command.view))), None)
            if clash is not None:
                self.error(("commands", name, "key"), f"{key_label(command.key)} is also the key of command "
                                                      f"{clash.name} in that view")
                continue
            found.append(command)
        return tuple(found)

    def command(self, name: str, spec: object) -> CommandSpec | None:
        base: FieldPath = ("commands", name)
        if not COMMAND_NAME.fullmatch(name):
            self.error(base, "command names are lowercase letters, digits and -, starting with a letter "
                             "(at most 40)")
            return None
        table = self.table(spec, base, _COMMAND_FIELDS)
        if not table and not isinstance(spec, dict):
            return None
        help_text = self.text_field(table, base + ("help",), max_len=200, required=True, allow_empty=False)
        key = None
        if "key" in table:
            try:
                key = parse_key(table["key"])
            except ValueError as e:
                self.error(base + ("key",), str(e))
                return None
        view = table.get("view", "all")
        if view not in COMMAND_VIEWS:
            self.error(base + ("view",), f"must be one of {', '.join(COMMAND_VIEWS)}, not {show(view)}")
            return None
        if not help_text:
            return None
        return CommandSpec(name, help_text, key, view)

    def version(self, doc: Mapping[str, Any]) -> Version | None:
        text = self.text_field(doc, ("version",), max_len=_VERSION_MAX, required=True)
        if not text:
            return None
        try:
            return Version.parse(text)
        except ValueError as e:
            self.error(("version",), str(e))
            return None

    def api(self, doc: Mapping[str, Any]) -> int | None:
        value = doc.get("api", _MISSING)
        supported = ", ".join(str(m) for m in sorted(SUPPORTED_API_MAJORS))
        if value is _MISSING:
            self.error(("api",), f'required field is missing (this qtui supports API "{supported}")')
            return None
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
            major = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            major = value
        else:
            self.error(("api",), f'must be the API major version as a string, e.g. "{supported}"')
            return None
        if major not in SUPPORTED_API_MAJORS:
            self.error(("api",), f"plugin targets API {major}; this qtui supports API {supported}")
            return None
        return major

    def entry(self, doc: Mapping[str, Any]) -> str:
        path: FieldPath = ("entry",)
        entry = self.text_field(doc, path, max_len=255, default=DEFAULT_ENTRY, allow_empty=False)
        parts = PurePosixPath(entry).parts
        if "\\" in entry or PurePosixPath(entry).is_absolute() or ".." in parts:
            self.error(path, f"{entry!r} must be a relative path inside the plugin folder, without '..'")
        elif left_out_because(entry) is not None:
            self.error(path, f"{entry!r} is {left_out_because(entry)}: bundles leave it out, so it cannot run")
        elif not entry.endswith(".lua"):
            self.error(path, f"{entry!r} must be a .lua file")
        elif self.folder is not None:
            folder = self.folder.resolve()
            target = (folder / entry).resolve()
            if not target.is_relative_to(folder):
                self.error(path, f"{entry!r} leads outside the plugin folder")
            elif not target.is_file():
                self.error(path, f"entry file {entry!r} does not exist in {self.folder}")
        return entry

    def permissions(self, doc: Mapping[str, Any]) -> tuple[Capability, ...]:
        value = doc.get("permissions", [])
        if not isinstance(value, list):
            self.error(("permissions",), f"must be an array of capability names, not {type_name(value)}")
            return ()
        found: list[Capability] = []
        for i, item in enumerate(value):
            path: FieldPath = ("permissions", i)
            if not isinstance(item, str):
                self.error(path, f"must be a capability name, not {type_name(item)}")
                continue
            try:
                capability = Capability(item)
            except ValueError:
                self.error(path, f"unknown capability {show(item)} (known: {known_names()})")
                continue
            if capability in found:
                self.error(path, f"{show(item)} is listed twice")
            else:
                found.append(capability)
        return tuple(found)

    def limits(self, doc: Mapping[str, Any]) -> Limits:
        if "limits" not in doc:
            return Limits()
        fields = [f.name for f in attrs.fields(Limits)]
        table = self.table(doc["limits"], ("limits",), [*fields, *LIMIT_ALIASES])
        chosen = {}
        for key in [*fields, *LIMIT_ALIASES]:
            value = table.get(key, _MISSING)
            if value is _MISSING:
                continue
            path: FieldPath = ("limits", key)
            field = LIMIT_ALIASES.get(key, key)
            maximum = getattr(MAX_LIMITS, field)
            if field != key and field in table:
                self.error(path, f"the former name of {field}; give only {field}")
            elif isinstance(value, bool) or not isinstance(value, int):
                self.error(path, f"must be an integer, not {type_name(value)}")
            elif value < 1:
                self.error(path, f"must be at least 1, not {value}")
            elif value > maximum:
                self.error(path, f"{value} is above the host maximum of {maximum}")
            else:
                chosen[field] = value
        return Limits(**chosen)

    def panel(self, doc: Mapping[str, Any], plugin_name: str) -> Panel | None:
        if "panel" not in doc:
            return None
        table = self.table(doc["panel"], ("panel",), _PANEL_FIELDS)
        title = self.text_field(
            table, ("panel", "title"), max_len=80, default=plugin_name, allow_empty=False
        )
        rows = self.int_field(table, ("panel", "rows"), 1, PANEL_MAX_ROWS)
        width = self.int_field(table, ("panel", "width"), PANEL_MIN_WIDTH, PANEL_MAX_WIDTH)
        placement = Placement.BOTTOM
        value = table.get("placement", _MISSING)
        if value is not _MISSING:
            try:
                placement = Placement(value)
            except ValueError:
                choices = ", ".join(p.value for p in Placement)
                self.error(("panel", "placement"), f"must be one of {choices}, not {show(value)}")
        return Panel(title=title, rows=rows, width=width, placement=placement)

    def settings(self, doc: Mapping[str, Any]) -> tuple[Setting, ...]:
        if "settings" not in doc:
            return ()
        value = doc["settings"]
        if not isinstance(value, dict):
            self.error(("settings",), f"must be a table of settings, not {type_name(value)}")
            return ()
        found = []
        for name, spec in value.items():
            setting = self.setting(name, spec)
            if setting is not None:
                found.append(setting)
        return tuple(found)

    def setting(self, name: str, spec: object) -> Setting | None:
        base: FieldPath = ("settings", name)
        ok = True
        if not _SETTING_NAME.fullmatch(name) or len(name) > _NAME_MAX:
            self.error(base, "setting names are lowercase letters, digits and _, starting with a letter")
            ok = False
        table = self.table(spec, base, _SETTING_FIELDS)
        if not table:
            if isinstance(spec, dict):
                self.error(base + ("type",), "required field is missing")
            return None
        description = self.text_field(table, base + ("description",), max_len=300)
        raw_type = table.get("type", _MISSING)
        try:
            kind = SettingType(raw_type)
        except ValueError:
            choices = ", ".join(t.value for t in SettingType)
            if raw_type is _MISSING:
                self.error(base + ("type",), f"required field is missing (one of {choices})")
            else:
                self.error(base + ("type",), f"must be one of {choices}, not {show(raw_type)}")
            return None
        choices: tuple[str, ...] = ()
        if kind is SettingType.CHOICE:
            choices_or_none = self.choices(table, base)
            ok = ok and choices_or_none is not None
            choices = choices_or_none or ()
        elif "choices" in table:
            self.error(base + ("choices",), "only choice settings have choices")
            ok = False
        bounds = []
        for key in ("min", "max"):
            bound = table.get(key)
            if bound is None:
                bounds.append(None)
                continue
            try:
                if kind is not SettingType.NUMBER:
                    raise ValueError("only number settings have a minimum and maximum")
                _check_number(bound)
            except ValueError as e:
                self.error(base + (key,), str(e))
                ok = False
                bound = None
            bounds.append(bound)
        minimum, maximum = bounds
        if minimum is not None and maximum is not None and minimum > maximum:
            self.error(base + ("max",), f"the maximum {maximum} is below the minimum {minimum}")
            ok = False
            minimum = maximum = None  # so the default is not also blamed for the bad range
        if "default" not in table:
            self.error(base + ("default",), "required field is missing")
            return None
        if kind is SettingType.CHOICE and not choices:
            return None  # the choices were reported; the default cannot be judged without them
        setting = Setting(name, kind, table["default"], description, choices, minimum, maximum)
        try:
            setting.validate(setting.default)
        except ValueError as e:
            self.error(base + ("default",), str(e))
            return None
        return setting if ok else None

    def choices(self, table: Mapping[str, Any], base: FieldPath) -> tuple[str, ...] | None:
        path = base + ("choices",)
        value = table.get("choices", _MISSING)
        if value is _MISSING:
            self.error(path, "required field is missing for a choice setting")
            return None
        if not isinstance(value, list) or not value:
            self.error(path, "must be a non-empty array of strings")
            return None
        seen: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.error(path + (i,), f"must be a string, not {type_name(item)}")
                return None
            try:
                _check_text(item, 80, allow_empty=False)
            except ValueError as e:
                self.error(path + (i,), str(e))
                return None
            if item in seen:
                self.error(path + (i,), f"{show(item)} is listed twice")
                return None
            seen.append(item)
        return tuple(seen)
