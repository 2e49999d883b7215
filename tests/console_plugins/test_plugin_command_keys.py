"""Plugin commands in the console's help, and bound to keys from config.toml."""

from __future__ import annotations

from qtui.console.keymap import DEFAULT_KEYMAP

ECHO = """
    function activate() qtui.command("say", "say \\27[31mhello\\27[0m in the panel"); qtui.render({"quiet"}) end
    function on_event(e) if e.type == "command" then qtui.render({"said " .. e.args}) end end
"""


async def running_echo(make_console):  # noqa: ANN001, ANN201 - the fixture and its Driver
    """A console with the echo plugin enabled and its commands granted."""
    d = await make_console()
    d.write_plugin("echo", ECHO, ["commands"])
    d.console.execute("plugin enable echo")
    await d.wait_for("Permissions: echo")
    await d.answer("a", "enter")
    await d.wait_for("quiet")
    return d


async def test_plugin_commands_are_listed_under_help_commands(make_console) -> None:
    d = await running_echo(make_console)
    d.console.execute("help commands")
    view = d.console.help.view
    lines = [view.line_text(i) for i in range(len(view._lines))]  # noqa: SLF001 - every line, not just a screen
    at = next(i for i, line in enumerate(lines) if "echo.say [ARGS]" in line)
    assert "commands of running plugins" in lines[at - 1]
    assert lines[at + 1].strip() == "say ^[[31mhello^[[0m in the panel"  # the plugin's text, made inert


async def test_a_key_from_config_runs_a_plugin_command(make_console) -> None:
    d = await running_echo(make_console)
    keymap, problems = DEFAULT_KEYMAP.with_overrides({"echo.say": ["ctrl r"]})
    assert problems == []
    d.console.keymap = keymap  # as config.toml's [keys] "echo.say" = "Ctrl-R" gives it
    d.press("ctrl r")
    await d.wait_for("said ")
    d.console.execute("help keys")
    view = d.console.help.view
    assert any(view.line_text(i).split() == ["Ctrl-R", "Run", "the", "plugin", "command", "echo.say"]
               for i in range(len(view._lines)))  # noqa: SLF001 - every line, not just a screen
