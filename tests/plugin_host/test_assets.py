"""qtui.asset in a real host: the bytes hashed at load time are what the plugin reads."""

from __future__ import annotations


async def test_an_asset_that_is_not_utf8_is_refused_with_the_byte(harness) -> None:
    plugin = harness.plugin("reader", """
        function activate()
          local ok, err = pcall(qtui.asset, "latin1.txt")
          qtui.render({tostring(ok), err})
        end
    """)
    (plugin.folder / "latin1.txt").write_bytes(b"caf\xe9")
    await harness.start(plugin)
    assert harness.text("reader") == ["false", "qtui.asset: latin1.txt is not UTF-8 text (byte 4)"]


async def test_an_asset_changed_on_disk_after_loading_is_read_as_it_was(harness) -> None:
    plugin = harness.plugin("reader", """
        function on_event(e) qtui.render({qtui.asset("note.txt")}) end  -- a resize arrives unasked
    """, files={"note.txt": "as allowed"})
    await harness.start(plugin)
    (plugin.folder / "note.txt").write_text("changed behind its back")
    harness.host.resize("reader", 40, 5)
    assert await harness.wait_text("reader", "as allowed")
