-- Contract: qtui.subscribe and qtui.unsubscribe.
local helpers = require("helpers")

local COUNTER = [[
  local count = 0
  function on_event(e)
    count = count + 1
    qtui.render({e.type .. " " .. count})
    if count == 2 then qtui.unsubscribe("stats") end
  end
]]

describe("qtui.subscribe", function()
  it("delivers events of the named types from then on", function()
    local p = qtest.load{ grant = { "stats.read", "selection.read" }, source = [[
      function activate() qtui.subscribe("stats", "selection") end
    ]] .. COUNTER }
    p:send("stats")
    assert.same({ "stats 1" }, p:text())
    p:send{ type = "selection", screen = "queues" }
    assert.same({ "selection 2" }, p:text())
  end)

  it("refuses an event type that does not exist or needs no subscription", function()
    local p = qtest.load(helpers.attempt([[qtui.subscribe("stats", "nonsense")]], { grant = { "stats.read" } }))
    assert.same({ "false", "init.lua:3: qtui.subscribe: cannot subscribe to 'nonsense' "
                  .. "(events: stats, selection, key, mouse, lifecycle, console_key)" }, p:text())
    local q = qtest.load(helpers.attempt([[qtui.subscribe("timer")]]))
    assert.equals("init.lua:3: qtui.subscribe: cannot subscribe to 'timer' "
                  .. "(events: stats, selection, key, mouse, lifecycle, console_key)", q:text()[2])
  end)

  it("needs no capability for lifecycle events", function()
    local p = qtest.load(helpers.attempt([[qtui.subscribe("lifecycle")]]))
    assert.same({ "true", "nil" }, p:text())
  end)
end)

describe("qtui.unsubscribe", function()
  it("stops the events of the named types", function()
    local p = qtest.load{ grant = { "stats.read" }, source = [[
      function activate() qtui.subscribe("stats") end
    ]] .. COUNTER }
    p:send("stats")
    p:send("stats")
    p:send("stats")
    assert.same({ "stats 2" }, p:text())
  end)

  it("refuses an event type that does not exist", function()
    local p = qtest.load(helpers.attempt([[qtui.unsubscribe("nonsense")]]))
    assert.equals("false", p:text()[1])
    assert.matches("qtui.unsubscribe: cannot subscribe to 'nonsense'", p:text()[2], 1, true)
  end)
end)
