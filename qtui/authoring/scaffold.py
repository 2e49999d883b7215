"""`qtui plugin new NAME`: a working plugin folder to start from.

The folder holds a manifest, an ``init.lua`` that draws a panel of every queue's ready,
scheduled and dead jobs from the console's stats (fitted to the panel's width with the
``qtui.text`` library module), a spec that ``qtui plugin test`` runs, and a
``.luarc.json`` pointing lua-language-server at qtui's type definitions (hidden files are not
part of the plugin's bundle). The folder is written beside its final place and renamed into
it, so it is never left half made.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import tomli_w

from qtui.authoring import typedefs
from qtui.plugins.bundles.manifest import MANIFEST_FILE, ManifestError, parse_manifest

EXIT_OK, EXIT_USAGE, EXIT_ERROR = 0, 2, 5

# Templates: "{name}" stands for the plugin's name (checked to be letters, digits and -).
_MANIFEST = """\
# The plugin's manifest: see qtui-plugin(5).
name = "{name}"
version = "0.1.0"
description = "Ready, scheduled and dead jobs of every queue"
api = "1"
# Every capability the code uses; the operator grants them (qtui plugin grant {name} --all).
permissions = ["stats.read"]

[panel]
title = "{name}"
rows = 8
"""

_INIT = """\
-- {name}: ready, scheduled and dead jobs of every queue, from the console's stats.
-- The plugin API is described in qtui-lua(7); .luarc.json gives your editor its types.
-- qtui.text comes with qtui (its library for plugins): it fits text into terminal columns.
local text = require("qtui.text")

local width = 78 -- the panel's columns; a 'resize' event says when they change
---@type qtui.StatsEvent?
local latest -- the last stats, drawn again when the width changes

---@param queue qtui.QueueStats
---@return qtui.Span[]
local function line(queue)
  local counts = "  ready " .. queue.ready .. "  scheduled " .. queue.scheduled .. "  "
  local dead = "dead " .. queue.dead
  -- Queue names are whatever producers chose: cut the name to fit, never the counts.
  local room = width - text.width(counts) - text.width(dead)
  return {
    {text = text.fit(queue.name, room), style = "bold"},
    counts,
    {text = dead, style = queue.dead > 0 and "error" or "dim"},
  }
end

local function draw()
  if latest == nil then
    qtui.render({{{text = "waiting for the first stats", style = "dim"}}})
  elseif #latest.queues == 0 then
    qtui.render({{{text = "no queues yet", style = "dim"}}})
  else
    local lines = {}
    for _, queue in ipairs(latest.queues) do
      lines[#lines + 1] = line(queue)
    end
    qtui.render(lines)
  end
end

---@param ctx qtui.Context
function activate(ctx)
  qtui.subscribe("stats")
  draw()
end

---@param event qtui.Event
function on_event(event)
  if event.type == "stats" then
    latest = event
  elseif event.type == "resize" then
    width = event.width
  else
    return
  end
  draw()
end
"""

_SPEC = """\
-- Specs of {name}: run them with `qtui plugin test <this plugin's folder>`.
-- Each qtest.load{} starts the plugin in a fresh console whose queue holds `jobs`.

describe("{name}", function()
  it("says it is waiting until the first stats arrive", function()
    local p = qtest.load{}
    assert.same({"waiting for the first stats"}, p:text())
  end)

  it("shows ready, scheduled and dead jobs per queue", function()
    local p = qtest.load{jobs = {
      {queue = "email", state = "ready"},
      {queue = "email", state = "dead", error = "smtp down"},
      {queue = "sms", state = "scheduled"},
    }}
    p:send("stats")
    assert.same({
      "email  ready 1  scheduled 0  dead 1",
      "sms  ready 0  scheduled 1  dead 0",
    }, p:text())
  end)

  it("marks queues with dead jobs", function()
    local p = qtest.load{jobs = {
      {queue = "email", state = "dead"},
      {queue = "sms", state = "ready"},
    }}
    p:send("stats")
    local email, sms = p:panel()[1], p:panel()[2]
    assert.same({text = "dead 1", style = "error"}, email.spans[3])
    assert.same({text = "dead 0", style = "dim"}, sms.spans[3])
  end)

  it("says so when there are no queues", function()
    local p = qtest.load{}
    p:send("stats")
    assert.same({"no queues yet"}, p:text())
  end)

  it("cuts a long queue name to the panel's width, never the counts", function()
    local p = qtest.load{jobs = {{queue = "notifications-for-every-customer", state = "ready"}}}
    p:send{type = "resize", width = 40, height = 8}
    p:send("stats")
    assert.same({"notificat…  ready 1  scheduled 0  dead 0"}, p:text())
  end)
end)
"""

#: Globals lua-language-server should know in plugin code and specs.
_GLOBALS = ["activate", "on_event", "deactivate", "describe", "it", "before_each", "after_each", "qtest"]


class ScaffoldError(Exception):
    """The plugin folder cannot be made; the message says why."""


def check_name(name: str) -> None:
    """ScaffoldError unless `name` is a valid plugin name (the manifest's own rule)."""
    if not name:
        raise ScaffoldError("the plugin's name must not be empty")
    minimal = tomli_w.dumps({"name": name, "version": "0.1.0", "description": "-", "api": "1"})
    try:
        parse_manifest(minimal, file=Path(MANIFEST_FILE))
    except ManifestError as exc:
        reasons = [p.message for p in exc.problems if p.field == "name"] or [str(exc)]
        raise ScaffoldError(reasons[0]) from None


def files(name: str) -> dict[str, str]:
    """The files of a new plugin called `name`, by relative path."""
    luarc = {
        "$schema": "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
        "runtime.version": "Lua 5.4",
        "workspace.library": [str(typedefs.PATH.parent)],
        "workspace.checkThirdParty": False,
        "diagnostics.globals": _GLOBALS,
    }
    return {
        MANIFEST_FILE: _MANIFEST.replace("{name}", name),
        "init.lua": _INIT.replace("{name}", name),
        f"spec/{name}_spec.lua": _SPEC.replace("{name}", name),
        ".luarc.json": json.dumps(luarc, indent=2) + "\n",
    }


def create(name: str, parent: Path) -> Path:
    """Write a new plugin called `name` into ``parent/name`` and return that folder.

    Refuses an invalid name, and a target that is a file or a folder that is not empty.
    """
    check_name(name)
    target = parent / name
    if target.is_symlink() or target.is_file():
        raise ScaffoldError(f"{target} already exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        raise ScaffoldError(f"{target} already exists and is not empty")
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".{name}.{secrets.token_hex(4)}.new"
    staging.mkdir()
    try:
        for relative, text in files(name).items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.rename(staging, target)  # replaces an empty folder; fails if one appeared meanwhile
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def cmd_new(args: argparse.Namespace) -> int:
    """`qtui plugin new NAME [--dir PARENT]`."""
    parent = Path(args.dir) if args.dir else Path.cwd()
    try:
        folder = create(args.name, parent)
    except ScaffoldError as exc:
        print(f"qtui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"qtui: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"created {folder}")
    for relative in files(args.name):
        print(f"  {relative}")
    print(f"try it: qtui plugin test {folder}   then: qtui plugin dev {folder}")
    return EXIT_OK


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `plugin new` to the `qtui plugin` actions."""
    p = actions.add_parser(
        "new", help="start a plugin: a working panel, its spec and editor settings",
        description="Create the folder PARENT/NAME with a manifest, an init.lua drawing a panel of "
                    "every queue from the console's stats, a spec for `qtui plugin test` and a "
                    ".luarc.json giving lua-language-server qtui's types. Refuses a folder that "
                    "exists and is not empty.",
    )
    p.add_argument("name", metavar="NAME", help="the plugin's name: lowercase letters, digits and -")
    p.add_argument("--dir", metavar="PARENT", help="where to create it (default: the current folder)")
    p.set_defaults(handler=cmd_new)
