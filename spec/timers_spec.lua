-- Contract: qtui.every, qtui.after and qtui.cancel (the console's clock moves only on
-- qtest.advance, so every timer fires exactly when a spec says).
local helpers = require("helpers")

local COUNT_TIMERS = [[
  local fired = {}
  function on_event(e)
    if e.type == "timer" then
      fired[#fired + 1] = e.name
      qtui.render({table.concat(fired, " ")})
    end
  end
]]

describe("qtui.every", function()
  it("fires a timer event every interval", function()
    local p = qtest.load{ grant = { "timers" },
                         source = [[function activate() qtui.every("poll", 2) end]] .. COUNT_TIMERS }
    qtest.advance(1.9)
    assert.same({}, p:text())
    qtest.advance(0.1)
    assert.same({ "poll" }, p:text())
    qtest.advance(2)
    qtest.advance(2)
    assert.same({ "poll poll poll" }, p:text())
    assert.same({ "poll" }, p:timers())
  end)

  it("restarts a timer of the same name with the new interval", function()
    local p = qtest.load{ grant = { "timers" }, source = [[
      function activate() qtui.every("poll", 1); qtui.every("poll", 10) end
    ]] .. COUNT_TIMERS }
    qtest.advance(9)
    assert.same({}, p:text())
    qtest.advance(1)
    assert.same({ "poll" }, p:text())
  end)

  it("refuses intervals under 0.1 seconds and more than 32 timers", function()
    local p = qtest.load(helpers.attempt([[qtui.every("fast", 0.05)]], { grant = { "timers" } }))
    assert.same({ "false", "init.lua:3: qtui.every: timer interval must be a number of at least 0.1 seconds" },
                p:text())
    local q = qtest.load(helpers.attempt([[for i = 1, 33 do qtui.every("t" .. i, 1) end]], { grant = { "timers" } }))
    assert.same({ "false", "init.lua:3: qtui.every: at most 32 timers" }, q:text())
  end)
end)

describe("qtui.after", function()
  it("fires once after the delay", function()
    local p = qtest.load{ grant = { "timers" },
                         source = [[function activate() qtui.after("later", 30) end]] .. COUNT_TIMERS }
    qtest.advance(29)
    assert.same({}, p:text())
    qtest.advance(1)
    qtest.advance(60)
    assert.same({ "later" }, p:text())
    assert.same({}, p:timers())
  end)

  it("can be started again from the timer's own event", function()
    local p = qtest.load{ grant = { "timers" }, source = [[
      local n = 0
      function activate() qtui.after("again", 1) end
      function on_event(e)
        n = n + 1
        qtui.render({"fired " .. n})
        if n < 3 then qtui.after("again", 1) end
      end
    ]] }
    for _ = 1, 5 do qtest.advance(1) end
    assert.same({ "fired 3" }, p:text())
  end)
end)

describe("qtui.cancel", function()
  it("stops a timer", function()
    local p = qtest.load{ grant = { "timers" }, source = [[
      function activate() qtui.every("poll", 1); qtui.after("once", 1); qtui.cancel("poll") end
    ]] .. COUNT_TIMERS }
    assert.same({ "once" }, p:timers())
    qtest.advance(5)
    assert.same({ "once" }, p:text())
  end)

  it("is harmless for a timer that is not running", function()
    local p = qtest.load(helpers.attempt([[qtui.cancel("never-started")]], { grant = { "timers" } }))
    assert.same({ "true", "nil" }, p:text())
  end)
end)
