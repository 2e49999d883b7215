-- Contract: what happens when a plugin fails or breaks its limits. Errors name the plugin's
-- file and line; a call that runs too long or allocates too much is aborted (pcall cannot
-- catch it); a plugin that does so repeatedly is quarantined. Other plugins carry on.

local RUNAWAY = [[
  function activate() qtui.subscribe("key") end
  function on_event(e)
    if e.key == "loop" then
      while true do end
    elseif e.key == "hide" then
      pcall(function() while true do end end)
      qtui.render({"survived"})
    end
    qtui.render({"handled " .. e.key})
  end
]]

-- The instruction limit, with room in the CPU-time budget so that it trips first.
local INSTRUCTIONS = "[limits]\ninstructions_per_call = 1000000\ncpu_ms_per_call = 1000\n"

describe("limits", function()
  it("abort a runaway loop at the instruction limit; the plugin keeps running", function()
    local p = qtest.load{ grant = { "selection.read" }, source = RUNAWAY, manifest = INSTRUCTIONS }
    p:send{ type = "key", key = "loop" }
    assert.equals("running", p:state())
    assert.equals(1, p:errors())
    assert.same({ message = "instruction limit exceeded (1,000,000 per call)", file = "init.lua", line = 4,
                  text = "plugin spec-plugin: init.lua:4: instruction limit exceeded (1,000,000 per call)" },
                p:error())
    p:send{ type = "key", key = "next" }
    assert.same({ "handled next" }, p:text())
  end)

  it("follow the manifest's [limits]", function()
    local p = qtest.load{ grant = { "selection.read" }, source = RUNAWAY, manifest = [[
      [limits]
      instructions_per_call = 50000000
      cpu_ms_per_call = 20
    ]] }
    p:send{ type = "key", key = "loop" }
    assert.equals("time limit exceeded (0.02 s of CPU time per call)", p:error().message)
  end)

  it("cannot be escaped with pcall", function()
    local p = qtest.load{ grant = { "selection.read" }, source = RUNAWAY, manifest = INSTRUCTIONS }
    p:send{ type = "key", key = "hide" }
    assert.same({}, p:text())
    assert.equals("instruction limit exceeded (1,000,000 per call)", p:error().message)
  end)

  it("cap the plugin's memory", function()
    local p = qtest.load{ grant = { "selection.read" }, manifest = "[limits]\nmemory_mib = 2\n", source = [[
      local hoard = {}
      function activate() qtui.subscribe("key") end
      function on_event(e)
        for i = 1, 1e7 do hoard[i] = string.rep("x", 64) .. i end
      end
    ]] }
    p:send{ type = "key", key = "x" }
    assert.matches("^memory limit exceeded %(2 MiB%)", p:error().message)
    assert.equals("running", p:state())
  end)

  it("quarantine a plugin after 3 violations; it gets no more events", function()
    local p = qtest.load{ grant = { "selection.read" }, source = RUNAWAY, manifest = INSTRUCTIONS }
    for _ = 1, 3 do p:send{ type = "key", key = "loop" } end
    local state, reason = p:state()
    assert.equals("quarantined", state)
    assert.matches("^3 limit violations within 300 s; last: instruction limit exceeded", reason)
    p:send{ type = "key", key = "next" }
    assert.same({}, p:text())
  end)

  it("leave the other plugins running", function()
    local p = qtest.load{ name = "runaway", grant = { "stats.read" }, source = [[
      function activate() qtui.subscribe("stats") end
      function on_event() while true do end end
    ]] }
    local other = p:add{ name = "steady", grant = { "stats.read" }, source = [[
      local n = 0
      function activate() qtui.subscribe("stats") end
      function on_event() n = n + 1; qtui.render({"stats " .. n}) end
    ]] }
    for _ = 1, 4 do p:send("stats") end
    assert.equals("quarantined", p:state())
    assert.same({ "stats 4" }, other:text())
  end)
end)

describe("errors", function()
  it("in on_event name the file and line; the plugin keeps running", function()
    local p = qtest.load{ grant = { "selection.read" }, source = [[
      function activate() qtui.subscribe("key") end
      function on_event(e)
        if e.key == "x" then
          error("cannot handle x")
        end
        qtui.render({"ok " .. e.key})
      end
    ]] }
    p:send{ type = "key", key = "x" }
    p:send{ type = "key", key = "y" }
    assert.equals("running", p:state())
    assert.same({ message = "cannot handle x", file = "init.lua", line = 4,
                  text = "plugin spec-plugin: init.lua:4: cannot handle x" }, p:error())
    assert.same({ "ok y" }, p:text())
  end)

  it("in activate leave the plugin errored", function()
    local p = qtest.load{ source = "local config = nil\nfunction activate()\n  return config.limit\nend\n" }
    local state, reason = p:state()
    assert.equals("errored", state)
    assert.equals("plugin spec-plugin: init.lua:3: attempt to index a nil value (upvalue 'config')", reason)
  end)

  it("in the main chunk leave the plugin errored", function()
    local p = qtest.load{ source = "function activate() end\nlocal x = #nil\n" }
    assert.equals("errored", p:state())
    assert.equals("init.lua", p:error().file)
  end)

  it("in a required module name the module's file", function()
    local p = qtest.load{ files = { ["lib/format.lua"] = "return {\n  line = function(q) return q.name .. nil end,\n}\n" },
                         source = [[
      local format = require("lib.format")
      function activate() qtui.render({format.line({name = "email"})}) end
    ]] }
    assert.equals("errored", p:state())
    assert.equals("lib/format.lua", p:error().file)
    assert.equals(2, p:error().line)
  end)
end)
