"""qtui plugin dev: only the plugin under development runs (unless --with-enabled), its log always shown."""

from __future__ import annotations

from pathlib import Path

from qtui.plugins.runtime.host import PluginState
from tests.support import wait_until

from .test_lifecycle_live import cli  # noqa: F401 - the fixture

DEV_MANIFEST = 'name = "{name}"\nversion = "0.1.0"\ndescription = "d"\napi = "1"\npermissions = ["stats.read"]\n'


def dev_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "work" / name
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text(DEV_MANIFEST.format(name=name))
    (folder / "init.lua").write_text('function activate(ctx) print("dev code here"); '
                                     'qtui.render({"from the work folder", "state " .. tostring(ctx.state)}) end')
    return folder


async def approve(d, name: str) -> None:
    await d.wait_for(f"Permissions: {name}")
    await d.answer("a", "enter")


async def installed_and_enabled(make_console, cli):  # noqa: ANN001, ANN201, F811
    """A console where plugins other and devplug (an installed one of the dev plugin's name) are
    installed and enabled, and running."""
    first = await make_console()
    first.write_plugin("other", 'function activate() qtui.render({"the other plugin"}) end')
    first.write_plugin("devplug", 'function activate() qtui.render({"the installed devplug"}) end\n'
                                  'function deactivate() return {from = "installed"} end')
    for name in ("other", "devplug"):
        assert (await cli("plugin", "enable", name))[0] == 0
    await first.wait_for("the other plugin")
    return first


async def test_only_the_plugin_under_development_runs(make_console, tmp_path: Path, cli) -> None:  # noqa: F811
    first = await installed_and_enabled(make_console, cli)

    d = await make_console(dev=dev_folder(tmp_path, "devplug"))
    await approve(d, "devplug")
    text = await d.wait_for("dev code here")
    assert "log: devplug" in text and "from the work folder" in text
    assert "the other plugin" not in text and "the installed devplug" not in text
    assert set(d.control.host.plugins) == {"devplug"}

    # enabled elsewhere while it runs: still not started here
    first.write_plugin("third", 'function activate() qtui.render({"the third plugin"}) end')
    assert (await cli("plugin", "enable", "third"))[0] == 0
    await first.wait_for("the third plugin")
    await wait_until(lambda: "third" in d.control.service.enabled, "the dev console to read plugins.toml")
    assert set(d.control.host.plugins) == {"devplug"}


async def test_with_enabled_the_others_run_too_but_not_one_of_the_same_name(make_console, tmp_path: Path,
                                                                              cli) -> None:  # noqa: F811
    first = await installed_and_enabled(make_console, cli)

    folder = dev_folder(tmp_path, "devplug")
    d = await make_console(dev=folder, with_enabled=True)
    await approve(d, "devplug")
    text = await d.wait_for(lambda t: "the other plugin" in t and "dev code here" in t)
    assert "log: devplug" in text and "the installed devplug" not in text
    assert "state nil" in text  # the installed one never ran here: it handed nothing over
    assert d.control.host.plugins["devplug"].plugin.folder == folder
    assert d.control.host.plugins["other"].state is PluginState.RUNNING
