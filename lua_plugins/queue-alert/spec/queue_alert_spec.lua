-- queue-alert, run with `qtui plugin test lua_plugins/queue-alert`.

local function jobs(queue, state, count)
  local list = {}
  for n = 1, count do
    list[n] = { queue = queue, state = state, payload = { n = n }, error = state == "dead" and "boom" or nil }
  end
  return list
end

local function shows(p, needle)
  for _, line in ipairs(p:text()) do
    if line:find(needle, 1, true) then
      return true
    end
  end
  return false
end

describe("queue-alert", function()
  it("is all clear below the thresholds", function()
    local p = qtest.load{ jobs = jobs("email", "dead", 2), settings = { dead_threshold = 3 } }
    p:send("stats")
    assert.is_true(shows(p, "all clear on 1 watched queue"))
    assert.same({}, p:notices())
  end)

  it("raises an alert once and announces it", function()
    local p = qtest.load{ jobs = jobs("email", "dead", 3), settings = { dead_threshold = 3 } }
    p:send("stats")
    p:send("stats")
    assert.same({ { text = "raised: email dead 3 ≥ 3", level = "warning" } }, p:notices())
    assert.is_true(shows(p, "raised  email dead 3 ≥ 3"))
  end)

  it("publishes alerts for other plugins on its own topic", function()
    local p = qtest.load{ jobs = jobs("email", "ready", 4), settings = { ready_threshold = 4 } }
    local listener = p:add{ name = "pager", grant = { "bus.subscribe" }, source = [[
      function activate() qtui.listen("plugin.queue-alert.") end
      function on_event(e)
        qtui.render({ e.topic .. " " .. e.data.queue .. " " .. e.data.metric .. " " .. e.data.state
                      .. " " .. e.data.value .. "/" .. e.data.threshold })
      end
    ]] }
    p:send("stats")
    assert.same({ "plugin.queue-alert.alert email ready raised 4/4" }, listener:text())
  end)

  it("clears an alert when its threshold is turned off", function()
    local p = qtest.load{ jobs = jobs("email", "ready", 4), settings = { ready_threshold = 4 } }
    p:send("stats")
    p:settings{ ready_threshold = 0 }
    p:send("stats")
    assert.same({ { text = "raised: email ready 4 ≥ 4", level = "warning" },
                  { text = "cleared: email ready 4 (rule turned off)", level = "info" } }, p:notices())
  end)

  it("clears the alerts of a queue it no longer watches", function()
    local p = qtest.load{ jobs = jobs("email", "dead", 2), settings = { dead_threshold = 2 } }
    p:send("stats")
    p:settings{ queues = "sms" }
    p:send("stats")
    assert.equals("cleared: email dead 2 (queue gone or no longer watched)", p:notices()[2].text)
    assert.is_true(shows(p, "all clear on 0 watched queues"))
  end)

  it("stays quiet in the status line when notify is switched off", function()
    local p = qtest.load{ jobs = jobs("email", "dead", 1), settings = { dead_threshold = 1, notify = false } }
    p:send("stats")
    assert.same({}, p:notices())
    assert.is_true(shows(p, "raised  email dead 1 ≥ 1"))
  end)
end)
