import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui.console import keymap
from qtui.console.app import Console
from qtui.model import InvalidInput, JobState


@pytest.mark.parametrize("binding", keymap.BINDINGS, ids=lambda b: f"{b.key}:{b.command}")
def test_every_binding_resolves_to_a_command_with_valid_arguments(binding: keymap.Binding) -> None:
    invocation = keymap.parse_command_line(binding.command)
    assert invocation.command.name in keymap.COMMANDS
    assert set(binding.contexts) <= set(keymap.CONTEXTS)
    assert keymap.binding_help(binding)


@pytest.mark.parametrize("name", sorted(keymap.COMMANDS))
def test_every_command_has_a_console_handler_taking_its_parameters(name: str) -> None:
    handler = getattr(Console, "cmd_" + name.replace("-", "_"))
    params = list(inspect.signature(handler).parameters)[1:]
    assert len(params) == len(keymap.COMMANDS[name].params)


def test_no_key_is_bound_twice_in_one_context() -> None:
    for context in keymap.CONTEXTS:
        keys = [b.key for b in keymap.BINDINGS if context in b.contexts]
        assert len(keys) == len(set(keys)), context


def test_screen_bindings_shadow_global_ones() -> None:
    assert keymap.resolve_key("P", "queues") == "purge-selected ready"
    assert keymap.resolve_key("P", "dead") == "purge-selected dead"
    assert keymap.resolve_key("P", "workers") is None
    assert keymap.resolve_key("j", "dead") == "move down"


def test_parse_types_arguments() -> None:
    inv = keymap.parse_command_line('enqueue email {"to": "a b"}')
    assert inv.args == ("email", '{"to": "a b"}')
    assert keymap.parse_command_line("purge all dead").args == ("all", JobState.DEAD)
    assert keymap.parse_command_line("requeue").args == (None,)
    assert keymap.parse_command_line("filter two words").args == ("two words",)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty command"),
        ("frobnicate", "unknown command 'frobnicate'"),
        ("purge email", "missing STATE"),
        ("purge email sideways", "unknown job state 'sideways'"),
        ("view elsewhere", "unknown screen 'elsewhere'"),
        ("page up", "direction must be one of next, prev"),
        ("refresh now", "unexpected 'now'"),
        ("find 'unclosed", "No closing quotation"),
    ],
)
def test_bad_command_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        keymap.parse_command_line(line)


@given(st.text(max_size=80))
def test_parser_only_ever_raises_invalid_input(line: str) -> None:
    try:
        keymap.parse_command_line(line)
    except InvalidInput:
        pass


def test_completion_covers_commands_and_typed_arguments() -> None:
    assert "requeue " in keymap.complete("req")
    assert "requeue-all " in keymap.complete("req")
    assert keymap.complete("view d") == ["view dead"]
    assert keymap.complete("state pro") == ["state processing"]
    assert keymap.complete("purge em", ["email", "billing"]) == ["purge email"]
    assert keymap.complete("purge a", ["email"]) == ["purge all"]
    assert keymap.complete("purge email d") == ["purge email dead"]
    assert keymap.complete("quit x") == []


@pytest.mark.parametrize("name", sorted(keymap.COMMANDS))
def test_every_command_name_completes(name: str) -> None:
    assert any(c.strip() == name for c in keymap.complete(name))
