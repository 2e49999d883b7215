"""Manifest parsing: valid bundles load, every kind of mistake is reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.manifest import (
    COMMAND_VIEWS,
    CommandSpec,
    MAX_LIMITS,
    Limits,
    Manifest,
    ManifestError,
    Panel,
    Placement,
    Setting,
    SettingType,
    Version,
    load_manifest,
    parse_manifest,
)

FILE = Path("plugins/tenant-sla/manifest.toml")

FULL = """\
name = "tenant-sla"
version = "1.2.0-rc.1+build.7"
description = "Time to completion per tenant"
author = "Ops <ops@example.com>"
api = "1"
entry = "src/main.lua"
permissions = ["stats.read", "timers", "jobs.purge"]

[limits]
memory_mib = 32

[panel]
title = "Tenant SLA"
rows = 8
width = 60
placement = "right"

[settings.threshold_s]
type = "number"
default = 300
description = "Seconds before a job is late"
min = 1
max = 86400

[settings.view]
type = "choice"
choices = ["table", "bars"]
default = "bars"

[settings.label]
type = "string"
default = ""

[settings.sound]
type = "boolean"
default = false
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, file=FILE)
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


def test_full_manifest_parses_into_its_fields() -> None:
    m = parse_manifest(FULL, file=FILE)
    assert m.name == "tenant-sla"
    assert m.version == Version(1, 2, 0, ("rc", "1"), ("build", "7"))
    assert m.api == 1
    assert m.entry == "src/main.lua"
    assert m.permissions == (Capability.STATS_READ, Capability.TIMERS, Capability.JOBS_PURGE)
    assert m.limits == Limits(memory_mib=32)  # the others keep the host defaults
    assert m.panel == Panel("Tenant SLA", rows=8, width=60, placement=Placement.RIGHT)
    assert [s.name for s in m.settings] == ["threshold_s", "view", "label", "sound"]
    assert m.setting("threshold_s") == Setting(
        "threshold_s", SettingType.NUMBER, 300, "Seconds before a job is late", (), 1, 86400
    )
    assert m.setting("view").choices == ("table", "bars")


def test_minimal_manifest_gets_host_defaults() -> None:
    m = parse_manifest('name = "x"\nversion = "0.1.0"\ndescription = "d"\napi = 1\n', file=FILE)
    assert (m.entry, m.permissions, m.limits, m.panel, m.settings) == ("init.lua", (), Limits(), None, ())


def test_the_former_name_wall_ms_per_call_sets_the_cpu_time_budget() -> None:
    base = 'name = "x"\nversion = "0.1.0"\ndescription = "d"\napi = 1\n[limits]\n'
    assert parse_manifest(base + "wall_ms_per_call = 40\n", file=FILE).limits == Limits(cpu_ms_per_call=40)
    assert problems(base + "cpu_ms_per_call = 40\nwall_ms_per_call = 40\n") == [
        f"{FILE}:7: limits.wall_ms_per_call: the former name of cpu_ms_per_call; give only cpu_ms_per_call"]
    assert problems(base + "wall_ms_per_call = 5000\n") == [
        f"{FILE}:6: limits.wall_ms_per_call: 5000 is above the host maximum of 1000"]


def test_unknown_capability_names_file_line_and_element() -> None:
    text = FULL.replace('"jobs.purge"]', '"jobs.delete"]').replace(
        'permissions = ["stats.read", "timers", ', 'permissions = [\n  "stats.read",\n  "timers",\n  '
    )
    (only,) = problems(text)
    assert only.startswith(
        "plugins/tenant-sla/manifest.toml:10: permissions[2]: unknown capability 'jobs.delete' "
        "(known: stats.read, selection.read,"
    )


def test_all_problems_are_reported_in_file_order_with_their_lines() -> None:
    text = """\
name = "Tenant SLA"
version = "1.2"
api = "2"
colour = "red"
permissions = ["timers", "timers"]

[limits]
memory_mib = 4096
wall_ms_per_call = "fast"
cpu = 1

[panel]
placement = "middle"
rows = 0

[settings.view]
type = "choice"
choices = ["a", "b"]
default = "c"

[settings.limit]
type = "number"
default = 5
min = 10
max = 1
"""
    assert problems(text) == [
        f"{FILE}: description: required field is missing",
        f"{FILE}:1: name: 'Tenant SLA' is not a valid plugin name (lowercase letters, digits and "
        "single hyphens, starting with a letter)",
        f"{FILE}:2: version: '1.2' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0 or "
        "2.0.0-rc.1)",
        f"{FILE}:3: api: plugin targets API 2; this qtui supports API 1",
        f"{FILE}:4: colour: unknown field (known: name, version, description, author, api, entry, "
        "permissions, limits, panel, settings, commands)",
        f"{FILE}:5: permissions[1]: 'timers' is listed twice",
        f"{FILE}:8: limits.memory_mib: 4096 is above the host maximum of 128",
        f"{FILE}:9: limits.wall_ms_per_call: must be an integer, not a string",
        f"{FILE}:10: limits.cpu: unknown field (known: memory_mib, instructions_per_call, "
        "cpu_ms_per_call, wall_ms_per_call)",
        f"{FILE}:13: panel.placement: must be one of bottom, top, left, right, not 'middle'",
        f"{FILE}:14: panel.rows: must be between 1 and 200, not 0",
        f"{FILE}:19: settings.view.default: 'c' is not one of a, b",
        f"{FILE}:25: settings.limit.max: the maximum 1 is below the minimum 10",
    ]


@pytest.mark.parametrize(
    ("snippet", "line", "expected"),
    [
        ('[settings.x]\ntype = "number"\ndefault = "5"', 7, "settings.x.default: must be a number, not a string"),
        ('[settings.x]\ntype = "number"\ndefault = true', 7, "settings.x.default: must be a number, not a boolean"),
        ('[settings.x]\ntype = "number"\ndefault = nan', 7, "settings.x.default: must be a finite number"),
        ('[settings.x]\ntype = "boolean"\ndefault = 1', 7, "settings.x.default: must be a boolean, not an integer"),
        ('[settings.x]\ntype = "string"\ndefault = 1', 7, "settings.x.default: must be a string, not an integer"),
        ('[settings.x]\ntype = "string"\ndefault = "a"\nmin = 1', 8,
         "settings.x.min: only number settings have a minimum and maximum"),
        ('[settings.x]\ntype = "choice"\ndefault = "a"', 5,
         "settings.x.choices: required field is missing for a choice setting"),
        ('[settings.x]\ntype = "choice"\ndefault = "a"\nchoices = []', 8,
         "settings.x.choices: must be a non-empty array of strings"),
        ('[settings.x]\ntype = "choice"\ndefault = "a"\nchoices = [\n "a",\n "a"]', 10,
         "settings.x.choices[1]: 'a' is listed twice"),
        ('[settings.x]\ntype = "string"\ndefault = "a"\nchoices = ["a"]', 8,
         "settings.x.choices: only choice settings have choices"),
        ('[settings.x]\ntype = "colour"\ndefault = "a"', 6,
         "settings.x.type: must be one of string, number, boolean, choice, not 'colour'"),
        ('[settings.x]\ndefault = "a"', 5, "settings.x.type: required field is missing"),
        ('[settings.x]\ntype = "string"', 5, "settings.x.default: required field is missing"),
        ('[settings.x]\ntype = "string"\ndefault = "a"\nhelp = "?"', 8, "settings.x.help: unknown field"),
        ('[settings.Bad]\ntype = "string"\ndefault = "a"', 5, "settings.Bad: setting names are lowercase"),
        ("settings = 3", 5, "settings: must be a table of settings, not an integer"),
        ("[panel]\ntitle = 3", 6, "panel.title: must be a string, not an integer"),
        ("panel = { title = 'T', width = 5 }", 5, "panel.width: must be between 10 and 1000, not 5"),
        ("[limits]\nmemory_mib = 0", 6, "limits.memory_mib: must be at least 1, not 0"),
        ("limits = [1]", 5, "limits: must be a table, not an array"),
        ('permissions = "timers"', 5, "permissions: must be an array of capability names, not a string"),
        ("permissions = [\n1]", 6, "permissions[0]: must be a capability name, not an integer"),
        ('entry = "../x.lua"', 5, "entry: '../x.lua' must be a relative path inside the plugin folder"),
        ('entry = "/etc/x.lua"', 5, "entry: '/etc/x.lua' must be a relative path inside the plugin folder"),
        ('entry = "init.py"', 5, "entry: 'init.py' must be a .lua file"),
        ('entry = "lib/x.lua~"', 5, "entry: 'lib/x.lua~' is a hidden or temporary file name"),
        ('entry = ".hidden.lua"', 5, "entry: '.hidden.lua' is a hidden or temporary file name"),
        ('author = "evil\\u001b[2J"', 5, "author: must not contain control characters"),
        ('description2 = """\nmulti\nline"""\nextra = 1', 8, "extra: unknown field"),
    ],
)
def test_targeted_errors(snippet: str, line: int, expected: str) -> None:
    text = 'name = "x"\nversion = "1.0.0"\ndescription = "d"\napi = "1"\n' + snippet + "\n"
    found = problems(text)
    assert found[-1].startswith(f"{FILE}:{line}: {expected}"), found
    assert len(found) == 1 or "description2" in snippet


@pytest.mark.parametrize("api", ["true", '"one"', "1.0", '"1.0"'])
def test_api_must_name_a_major(api: str) -> None:
    assert problems(f'name = "x"\nversion = "1.0.0"\ndescription = "d"\napi = {api}\n') == [
        f'{FILE}:4: api: must be the API major version as a string, e.g. "1"'
    ]


def test_missing_api_says_which_api_is_supported() -> None:
    assert problems('name = "x"\nversion = "1.0.0"\ndescription = "d"\n') == [
        f'{FILE}: api: required field is missing (this qtui supports API "1")'
    ]


def test_toml_syntax_error_carries_line_and_column() -> None:
    (only,) = problems('name = "x"\nversion = "1.0.0"\ndescription = \n')
    assert only.startswith(f"{FILE}:3: invalid TOML at column 15: ")


def test_manifest_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_bytes(b'name = "x"\ndescription = "\xff"\n')
    with pytest.raises(ManifestError, match=r"manifest.toml:2: not UTF-8 text"):
        load_manifest(tmp_path)


def test_missing_manifest_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest.toml: cannot read: No such file"):
        load_manifest(tmp_path)


def test_entry_file_must_exist_inside_the_folder(tmp_path: Path, make_plugin, manifest_doc) -> None:
    folder = make_plugin(tmp_path, "p", manifest_doc(name="p"), files={"main.lua": ""})
    with pytest.raises(ManifestError, match=r"manifest.toml: entry: entry file 'init.lua' does not exist"):
        load_manifest(folder)
    outside = tmp_path / "outside.lua"
    outside.write_text("")
    (folder / "init.lua").symlink_to(outside)
    with pytest.raises(ManifestError, match="entry: 'init.lua' leads outside the plugin folder"):
        load_manifest(folder)


def test_load_manifest_with_entry_in_subfolder(tmp_path: Path, make_plugin, manifest_doc) -> None:
    folder = make_plugin(
        tmp_path, "p", manifest_doc(name="p", entry="src/main.lua"), files={"src/main.lua": ""}
    )
    assert load_manifest(folder).entry == "src/main.lua"


# -- versions -----------------------------------------------------------------------------

SEMVER_ORDER = [
    "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
    "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0",
]


def test_versions_order_by_semver_precedence() -> None:
    parsed = [Version.parse(v) for v in SEMVER_ORDER]
    assert sorted(reversed(parsed)) == parsed
    for low, high in zip(parsed, parsed[1:], strict=False):
        assert low < high and high > low and low <= high and not high <= low


def test_build_metadata_does_not_change_precedence() -> None:
    a, b = Version.parse("1.0.0+a"), Version.parse("1.0.0+b")
    assert a != b and not a < b and not b < a and a <= b and a >= b


@pytest.mark.parametrize(
    "text", ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "v1.0.0", "1.0.0 ", "1.0.0\n", "١.٠.٠", "1.0.0-a..b"]
)
def test_invalid_versions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a semantic version"):
        Version.parse(text)


_ident = st.one_of(
    st.integers(0, 10**9).map(str), st.from_regex(r"[0-9]*[A-Za-z-][0-9A-Za-z-]{0,5}", fullmatch=True)
)
versions = st.builds(
    Version,
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.lists(_ident, max_size=3).map(tuple),
    st.lists(st.from_regex(r"[0-9A-Za-z-]{1,6}", fullmatch=True), max_size=3).map(tuple),
)


@given(versions)
def test_version_text_round_trips(version: Version) -> None:
    assert Version.parse(str(version)) == version


@given(versions, versions)
def test_version_order_is_total_on_precedence(a: Version, b: Version) -> None:
    assert (a < b) + (b < a) + (a._precedence() == b._precedence()) == 1
    if a.prerelease == b.prerelease == () and (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch):
        assert (a < b) == ((a.major, a.minor, a.patch) < (b.major, b.minor, b.patch))


# -- property tests over the parser -------------------------------------------------------

_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=40
)
_names = st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,5}){0,3}", fullmatch=True)
_numbers = st.one_of(st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def _settings(draw: st.DrawFn) -> Setting:
    name = draw(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True))
    kind = draw(st.sampled_from(SettingType))
    description = draw(_text)
    if kind is SettingType.STRING:
        return Setting(name, kind, draw(_text), description)
    if kind is SettingType.BOOLEAN:
        return Setting(name, kind, draw(st.booleans()), description)
    if kind is SettingType.CHOICE:
        choices = draw(st.lists(_text.filter(bool), min_size=1, max_size=4, unique=True))
        return Setting(name, kind, draw(st.sampled_from(choices)), description, tuple(choices))
    low, default, high = sorted(draw(st.lists(_numbers, min_size=3, max_size=3)))
    minimum = draw(st.sampled_from([None, low]))
    maximum = draw(st.sampled_from([None, high]))
    return Setting(name, kind, default, description, (), minimum, maximum)


_keys = st.sampled_from(["j", "R", "/", "ctrl l", "meta x", "f5", "page down", "enter", " "])


@st.composite
def _commands(draw: st.DrawFn) -> tuple[CommandSpec, ...]:
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True), max_size=4, unique=True))
    keys = draw(st.lists(_keys, min_size=len(names), max_size=len(names), unique=True))
    return tuple(CommandSpec(name, draw(_text.filter(bool)), draw(st.sampled_from([None, key])),
                             draw(st.sampled_from(COMMAND_VIEWS))) for name, key in zip(names, keys, strict=True))


def _with_commands(manifest: Manifest, commands: tuple[CommandSpec, ...]) -> Manifest:
    """Commands only where the manifest requests the commands capability (they need it)."""
    return attrs.evolve(manifest, commands=commands) if Capability.COMMANDS in manifest.permissions else manifest


manifests = st.builds(
    Manifest,
    name=_names,
    version=versions,
    description=_text.filter(bool),
    api=st.just(1),
    author=_text,
    entry=st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}\.lua", fullmatch=True),
    permissions=st.lists(st.sampled_from(Capability), unique=True).map(tuple),
    limits=st.builds(
        Limits,
        st.integers(1, MAX_LIMITS.memory_mib),
        st.integers(1, MAX_LIMITS.instructions_per_call),
        st.integers(1, MAX_LIMITS.cpu_ms_per_call),
    ),
    panel=st.none() | st.builds(
        Panel,
        _text.filter(bool),
        st.none() | st.integers(1, 200),
        st.none() | st.integers(10, 1000),
        st.sampled_from(Placement),
    ),
    settings=st.lists(_settings(), max_size=4, unique_by=lambda s: s.name).map(tuple),
).flatmap(lambda manifest: _commands().map(lambda commands: _with_commands(manifest, commands)))


@given(manifests)
def test_valid_manifests_round_trip_through_toml(manifest: Manifest) -> None:
    text = tomli_w.dumps(manifest.to_toml())
    assert parse_manifest(text, file=FILE) == manifest


_toml_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), _text, st.sampled_from(list(Capability))
    .map(str), st.datetimes(),
)
_toml_values = st.recursive(
    _toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _mutated(draw: st.DrawFn) -> dict:
    doc = draw(manifests).to_toml()
    for _ in range(draw(st.integers(1, 4))):
        # Walk to a random table, then replace, delete or add a field there.
        table = doc
        while True:
            nested = [k for k, v in table.items() if isinstance(v, dict)]
            if not nested or draw(st.booleans()):
                break
            table = table[draw(st.sampled_from(nested))]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "add" or not table:
            table[draw(_names | _text.filter(bool))] = draw(_toml_values)
        elif action == "delete":
            del table[draw(st.sampled_from(sorted(table)))]
        else:
            table[draw(st.sampled_from(sorted(table)))] = draw(_toml_values)
    return doc


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(_mutated())
def test_mutated_manifests_fail_only_with_located_field_errors(doc: dict) -> None:
    text = tomli_w.dumps(doc)
    lines = text.splitlines()
    try:
        parse_manifest(text, file=FILE)
    except ManifestError as e:
        assert e.problems
        for problem in e.problems:
            assert problem.file == FILE and problem.field and problem.message
            if problem.line is None:
                assert "required field is missing" in problem.message
                continue
            key = problem.field.rsplit(".", 1)[-1]
            if "required field is missing" not in problem.message and key.isidentifier():
                assert key in lines[problem.line - 1], (problem, text)


@given(st.text(max_size=300))
def test_arbitrary_text_fails_only_with_manifest_error(text: str) -> None:
    try:
        parse_manifest(text, file=FILE)
    except ManifestError as e:
        assert all(str(p).startswith(str(FILE)) for p in e.problems)


def test_the_documented_example_manifest_is_valid() -> None:
    import qtui.plugins.bundles.manifest as module

    example = module.__doc__.split("Example::")[1].split("Every problem")[0]
    text = "\n".join(line[4:] for line in example.splitlines())
    m = parse_manifest(text, file=FILE)
    assert (m.name, m.panel.placement, [s.name for s in m.settings]) == (
        "tenant-sla", Placement.RIGHT, ["threshold_s", "view"]
    )


def test_an_empty_name_is_refused(tmp_path: Path) -> None:
    text = 'name = ""\nversion = "1.0.0"\ndescription = "d"\napi = "1"\n'
    with pytest.raises(ManifestError, match=r"manifest.toml:1: name: "):
        parse_manifest(text, file=tmp_path / "manifest.toml")


COMMANDS_BASE = 'name = "x"\nversion = "1.0.0"\ndescription = "d"\napi = "1"\npermissions = ["commands"]\n'


def test_commands_with_their_keys_and_views() -> None:
    text = COMMANDS_BASE + (
        '[commands.late]\nhelp = "late jobs"\nkey = "ctrl-l"\nview = "jobs"\n'
        '[commands.again]\nhelp = "read again"\nkey = "F5"\n'
        '[commands.quiet]\nhelp = "no key"\n')
    manifest = parse_manifest(text, file=FILE)
    assert manifest.commands == (CommandSpec("late", "late jobs", "ctrl l", "jobs"),
                                 CommandSpec("again", "read again", "f5", "all"),
                                 CommandSpec("quiet", "no key", None, "all"))
    assert manifest.to_toml()["commands"]["late"] == {"help": "late jobs", "view": "jobs", "key": "Ctrl-L"}


@pytest.mark.parametrize(("snippet", "expected"), [
    ('[commands.late]\nhelp = "h"\nkey = "Ctrl-C"', "8: commands.late.key: Ctrl-C cannot be bound: it is the "
                                                  "terminal's interrupt"),
    ('[commands.late]\nhelp = "h"\nkey = "ctrl+l"', "8: commands.late.key: 'ctrl+l' is not a key"),
    ('[commands.late]\nhelp = "h"\nview = "moon"', "8: commands.late.view: must be one of all, queues, jobs, "
                                                   "dead, workers, plugins, detail, not 'moon'"),
    ('[commands.late]\nkey = "L"', "6: commands.late.help: required field is missing"),
    ('[commands.Late]\nhelp = "h"', "6: commands.Late: command names are lowercase letters, digits and -"),
    ('[commands.late]\nhelp = "h"\nshortcut = "L"', "8: commands.late.shortcut: unknown field"),
    ('[commands.a]\nhelp = "h"\nkey = "L"\nview = "dead"\n[commands.b]\nhelp = "h"\nkey = "L"',
     "12: commands.b.key: L is also the key of command a in that view"),
])
def test_command_errors_name_the_field(snippet: str, expected: str) -> None:
    found = problems(COMMANDS_BASE + snippet + "\n")
    assert found[-1].startswith(f"{FILE}:{expected}"), found


def test_declaring_commands_needs_the_commands_capability() -> None:
    found = problems(COMMANDS_BASE.replace('["commands"]', '["timers"]') + '[commands.late]\nhelp = "h"\n')
    assert found == [f'{FILE}:6: commands: commands need the commands capability: add "commands" to permissions']
