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

-- A plugin that counts the stats events it receives, taking unchanged ones every `seconds`.
local function stats_counter(seconds, extra)
  return { grant = { "stats.read" }, jobs = { { queue = "email", state = "ready" } }, source = [[
    local count = 0
    function activate() qtui.subscribe("stats"); qtui.unchanged_stats(]] .. seconds .. [[) end
    function on_event(e)
      count = count + 1
      qtui.render({ "stats " .. count .. " at " .. string.format("%.0f", e.taken_at - first_at(e)) })
      ]] .. (extra or "") .. [[
    end
    local first
    function first_at(e) first = first or e.taken_at; return first end
  ]] }
end

describe("qtui.unchanged_stats", function()
  it("holds back stats in which only time passed until that many seconds went by", function()
    local p = qtest.load(stats_counter(30))
    p:send("stats")
    assert.same({ "stats 1 at 0" }, p:text())
    qtest.advance(10) -- the ready job's age grows; nothing else changes
    p:send("stats")
    qtest.advance(19)
    p:send("stats")
    assert.same({ "stats 1 at 0" }, p:text())
    qtest.advance(1)
    p:send("stats")
    assert.same({ "stats 2 at 30" }, p:text()) -- 30 s after the stats it received last
    qtest.advance(10)
    p:send("stats")
    assert.same({ "stats 2 at 30" }, p:text())
  end)

  it("delivers stats that show a change at once", function()
    local p = qtest.load(stats_counter(3600))
    p:send("stats")
    qtest.advance(30)
    p:send("stats")
    assert.same({ "stats 1 at 0" }, p:text())
    qtest.advance(31) -- the job was enqueued over a minute ago: the queue's enqueue rate falls
    p:send("stats")
    assert.same({ "stats 2 at 61" }, p:text())
  end)

  it("delivers every stats event again at 0", function()
    local p = qtest.load(stats_counter(60, "if count == 1 then qtui.unchanged_stats(0) end"))
    p:send("stats")
    qtest.advance(1)
    p:send("stats")
    assert.same({ "stats 2 at 1" }, p:text())
  end)

  it("gives a new subscription the next stats at once", function()
    local p = qtest.load(stats_counter(60, 'if count == 1 then qtui.unsubscribe("stats"); qtui.subscribe("stats") end'))
    p:send("stats")
    qtest.advance(5)
    p:send("stats")
    assert.same({ "stats 2 at 5" }, p:text())
    qtest.advance(5)
    p:send("stats")
    assert.same({ "stats 2 at 5" }, p:text())
  end)

  it("takes 0 to 3600 seconds", function()
    for _, bad in ipairs({ "-1", "3601", "0/0", "'30'", "true" }) do
      local p = qtest.load(helpers.attempt("qtui.unchanged_stats(" .. bad .. ")"))
      assert.same({ "false", "init.lua:3: qtui.unchanged_stats: seconds must be a number from 0 to 3600" }, p:text())
    end
    local p = qtest.load(helpers.attempt("qtui.unchanged_stats(3600)"))
    assert.same({ "true", "nil" }, p:text())
  end)
end)
