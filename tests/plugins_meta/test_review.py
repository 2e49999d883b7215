"""Reviewing changed code: the copy of the code last granted, the diff and the lines that use capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtui.plugins.bundles.bundle import read_bundle
from qtui.plugins.runtime.api import gated_functions
from qtui.plugins.trust.review import GrantedCopies, granted_dir, review

V1 = """\
function activate()
  qtui.subscribe("stats")
end
function on_event(e)
  qtui.render({"ready " .. e.queues[1].ready})
end
"""


def test_a_copy_of_granted_code_is_kept_whole_and_read_back(make_plugin, tmp_path: Path, xdg: Path) -> None:
    folder = make_plugin(tmp_path, "bulk", files={"init.lua": V1, "lib/util.lua": "return {}\n", "logo.bin": ""})
    (folder / "logo.bin").write_bytes(bytes(range(256)))
    bundle = read_bundle(folder)
    copies = GrantedCopies()
    assert copies.folder == granted_dir() == xdg / ".local/state/qtui/granted"
    assert copies.load("bulk") is None
    copies.keep("bulk", "1.0.0", bundle)
    copy = copies.load("bulk")
    assert (copy.plugin, copy.version, copy.hash) == ("bulk", "1.0.0", bundle.hash)
    assert copy.files == bundle.files
    copies.path("bulk").write_text('{"files": 3}')
    with pytest.raises(ValueError, match="bulk.json: not a copy of granted code"):
        copies.load("bulk")
    with pytest.raises(ValueError, match="not a plugin name"):
        copies.path("../etc")


def test_a_review_shows_changed_files_the_diff_and_the_changed_lines_using_capabilities(
    make_plugin, tmp_path: Path
) -> None:
    folder = make_plugin(tmp_path, "bulk", files={"init.lua": V1, "old.lua": "return 1\n"})
    copies = GrantedCopies(tmp_path / "granted")
    copies.keep("bulk", "1.0.0", read_bundle(folder))
    (folder / "old.lua").unlink()
    (folder / "init.lua").write_text(V1.replace('  qtui.render', '  local jobs = qtui.jobs\n  jobs.purge("all", "dead")\n'
                                                '  qtui.render'))
    (folder / "new.lua").write_text('qtui.notify("hi")\n')
    result = review(copies.load("bulk"), read_bundle(folder), gated_functions())
    assert [str(c) for c in result.changes] == ["init.lua (changed, +2 -0)", "new.lua (added, +1 -0)",
                                                "old.lua (removed, +0 -1)"]
    assert "--- granted/init.lua" in result.diff and "+++ now/init.lua" in result.diff
    assert '+  jobs.purge("all", "dead")' in result.diff and "-return 1" in result.diff
    assert [(c.gate, c.path, c.line, c.changed) for c in result.calls] == [
        ("keys.read or selection.read or stats.read (by event type)", "init.lua", 2, False),
        ("jobs.purge", "init.lua", 6, True),
        ("notify", "new.lua", 1, True),
    ]
    assert str(result.changed_calls[0]) == 'init.lua:6: jobs.purge("all", "dead")'


def test_without_a_copy_all_the_code_is_new(make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "bulk", files={"init.lua": V1})
    result = review(None, read_bundle(folder), gated_functions())
    assert result.granted is None
    assert [str(c) for c in result.changes][0] == "init.lua (added, +6 -0)"
    assert [c.path for c in result.changes] == ["init.lua", "manifest.toml"]
    assert all(call.changed for call in result.calls)


def test_a_huge_diff_is_cut_and_says_so(make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "bulk", files={"init.lua": "".join(f"x{i} = {i}\n" for i in range(5000))})
    result = review(None, read_bundle(folder), {})
    assert len(result.diff) == 4001 and result.diff[-1].endswith("more diff lines not shown")
