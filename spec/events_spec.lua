-- Contract: every event type a plugin can receive, and its fields.
local helpers = require("helpers")

local QUEUE = {
  { queue = "email", state = "dead", payload = { n = 1 }, error = "smtp down" },
  { queue = "email", state = "ready" },
  { queue = "email", state = "ready" },
  { queue = "email", state = "scheduled" },
  { queue = "email", state = "processing" },
  { queue = "email", state = "completed" },
  { queue = "sms", state = "ready" },
}

describe("event stats", function()
  it("carries every queue's counts and rates, the workers and the time of the snapshot", function()
    local p = qtest.load(helpers.recorder({ "stats" }, { grant = { "stats.read" }, jobs = QUEUE }))
    p:send("stats")
    local f = helpers.fields(p)
    assert.equals("string:stats", f.type)
    assert.equals("string:email", f["queues.1.name"])
    assert.equals("integer:2", f["queues.1.ready"])
    assert.equals("integer:1", f["queues.1.scheduled"])
    assert.equals("integer:1", f["queues.1.processing"])
    assert.equals("integer:1", f["queues.1.completed"])
    assert.equals("integer:1", f["queues.1.dead"])
    for _, rate in ipairs({ "enqueued_per_min", "completed_per_min", "failed_per_min" }) do
      assert.matches("^float:", f["queues.1." .. rate])
    end
    assert.matches("^float:", f["queues.1.oldest_ready_age"])
    assert.equals("string:sms", f["queues.2.name"])
    assert.equals("integer:1", f["queues.2.ready"])
    assert.equals("integer:1", f.workers_seen)
    assert.matches("^integer:", f.workers_alive)
    assert.matches("^float:", f.taken_at)
  end)

  it("leaves out oldest_ready_age when a queue has no ready job", function()
    local p = qtest.load(helpers.recorder({ "stats" }, {
      grant = { "stats.read" }, jobs = { { queue = "email", state = "dead" } },
    }))
    p:send("stats")
    local f = helpers.fields(p)
    assert.equals("integer:0", f["queues.1.ready"])
    assert.is_nil(f["queues.1.oldest_ready_age"])
  end)

  it("is not delivered to a plugin that did not subscribe", function()
    local p = qtest.load(helpers.recorder({}, { grant = { "stats.read" }, jobs = QUEUE }))
    p:send("stats")
    assert.same({}, p:text())
  end)

  it("says which queues changed since the stats the plugin received before, and which are gone", function()
    local p = qtest.load(helpers.recorder({ "stats" }, { grant = { "stats.read" }, jobs = QUEUE }))
    p:send("stats")
    local f = helpers.fields(p)
    assert.equals("boolean:true", f["queues.1.changed"]) -- the first stats: every queue is new
    assert.equals("boolean:true", f["queues.2.changed"])
    assert.equals("table:empty", f.removed)
    qtest.advance(60) -- the oldest ready job's age grows, and the last minute's rates change
    p:send("stats")
    f = helpers.fields(p)
    assert.equals("boolean:true", f["queues.1.changed"])
    p:send("stats")
    f = helpers.fields(p)
    assert.is_nil(f["queues.1.changed"]) -- only the age grew: no change
    assert.is_nil(f["queues.2.changed"])
  end)
end)

describe("event selection", function()
  it("carries the screen, queue, state and job under the operator's cursor", function()
    local p = qtest.load(helpers.recorder({ "selection" }, { grant = { "selection.read" } }))
    p:send{ type = "selection", screen = "jobs", queue = "email", state = "dead", job_id = "42" }
    assert.same({ "job_id=string:42", "queue=string:email", "screen=string:jobs", "state=string:dead",
                  "type=string:selection" }, p:text())
  end)

  it("leaves out what is not selected", function()
    local p = qtest.load(helpers.recorder({ "selection" }, { grant = { "selection.read" } }))
    p:send{ type = "selection", screen = "queues" }
    assert.same({ "screen=string:queues", "type=string:selection" }, p:text())
  end)
end)

describe("event key", function()
  it("carries the key pressed in the plugin's panel", function()
    local p = qtest.load(helpers.recorder({ "key" }, { grant = { "selection.read" } }))
    p:send{ type = "key", key = "ctrl r" }
    assert.same({ "key=string:ctrl r", "panel=string:main", "type=string:key" }, p:text())
  end)

  it("arrives in the order the keys were pressed", function()
    local p = qtest.load{ grant = { "selection.read" }, source = [[
      local keys = {}
      function activate() qtui.subscribe("key") end
      function on_event(e) keys[#keys + 1] = e.key; qtui.render({table.concat(keys, " ")}) end
    ]] }
    for _, key in ipairs({ "j", "j", "k", "enter" }) do
      p:send{ type = "key", key = key }
    end
    assert.same({ "j j k enter" }, p:text())
  end)

  it("is not delivered without subscribing", function()
    local p = qtest.load(helpers.recorder({}, { grant = { "selection.read" } }))
    p:send{ type = "key", key = "enter" }
    assert.same({}, p:text())
  end)
end)

describe("event mouse", function()
  it("carries the action, button and position in the panel", function()
    local p = qtest.load(helpers.recorder({ "mouse" }, { grant = { "selection.read" } }))
    p:send{ type = "mouse", action = "press", button = 3, column = 12, row = 2 }
    assert.same({ "action=string:press", "button=integer:3", "column=integer:12", "panel=string:main",
                  "row=integer:2", "type=string:mouse" }, p:text())
  end)
end)

describe("event resize", function()
  it("carries the panel's width and height, without subscribing", function()
    local p = qtest.load(helpers.recorder({}, {}))
    p:send{ type = "resize", width = 78, height = 7 }
    assert.same({ "height=integer:7", "panel=string:main", "type=string:resize", "width=integer:78" }, p:text())
  end)

  it("comes only when the size changed", function()
    local p = qtest.load{ source = [[
      local seen = 0
      function on_event(e)
        if e.type == "resize" then seen = seen + 1 end
        qtui.render({ "resizes " .. seen .. " width " .. e.width })
      end
    ]] }
    p:send{ type = "resize", width = 40, height = 5 }
    p:send{ type = "resize", width = 40, height = 5 }
    p:send{ type = "resize", width = 80, height = 20 }
    assert.same({ "resizes 2 width 80" }, p:text())
  end)
end)

describe("event timer", function()
  it("carries the timer's name and the time it fired, without subscribing", function()
    local p = qtest.load(helpers.recorder({}, {
      grant = { "timers" }, source = [[function activate() qtui.after("refresh", 5) end]],
    }))
    qtest.advance(5)
    local f = helpers.fields(p)
    assert.equals("string:timer", f.type)
    assert.equals("string:refresh", f.name)
    assert.matches("^float:", f.at)
  end)
end)

describe("event command", function()
  it("carries the command's name and the rest of the command line", function()
    local p = qtest.load(helpers.recorder({}, {
      grant = { "commands" }, source = [[function activate() qtui.command("requeue-all", "requeue") end]],
    }))
    p:command("requeue-all", "email --to retry")
    assert.same({ "args=string:email --to retry", "name=string:requeue-all", "type=string:command" },
                p:text())
  end)

  it("carries the row under the cursor the operator ran it on", function()
    local p = qtest.load(helpers.recorder({}, {
      grant = { "commands" }, source = [[function activate() qtui.command("retry", "retry it") end]],
    }))
    p:command("retry", "", { screen = "dead", queue = "email", state = "dead", job_id = "42" })
    assert.same({ "args=string:", "name=string:retry", "row.job_id=string:42", "row.queue=string:email",
                  "row.screen=string:dead", "row.state=string:dead", "type=string:command" }, p:text())
  end)
end)

describe("event message", function()
  it("carries the topic, the sending plugin and the data", function()
    local p = qtest.load(helpers.recorder({}, {
      grant = { "bus.subscribe" }, source = [[function activate() qtui.listen("alerts.") end]],
    }))
    p:send{ type = "message", topic = "alerts.disk", sender = "watcher", data = { free = 3, unit = "GB" } }
    assert.same({ "data.free=integer:3", "data.unit=string:GB", "sender=string:watcher",
                  "topic=string:alerts.disk", "type=string:message" }, p:text())
  end)
end)

describe("event lifecycle", function()
  it("tells when another plugin starts, fails and stops", function()
    local p = qtest.load{ source = [[
      local seen = {}
      function activate() qtui.subscribe("lifecycle") end
      function on_event(e)
        seen[#seen + 1] = e.plugin .. " " .. e.version .. " " .. e.state .. (e.reason and (" " .. e.reason) or "")
        qtui.render(seen)
      end
    ]] }
    local good = p:add{ name = "good", version = "2.1.0", source = "function activate() end" }
    p:add{ name = "bad", source = "function activate()\n  error('no database')\nend" }
    good:stop()
    assert.same({
      "good 2.1.0 running",
      "bad 1.0.0 errored plugin bad: init.lua:2: no database",
      "good 2.1.0 stopped",
    }, p:text())
  end)

  it("never tells a plugin about itself", function()
    local p = qtest.load(helpers.recorder({ "lifecycle" }))
    p:reload{}
    assert.same({}, p:text())
  end)
end)

describe("event settings", function()
  it("carries every setting after the operator changed one", function()
    local p = qtest.load(helpers.recorder({}, { manifest = [[
      [settings.limit]
      type = "number"
      default = 10
      [settings.view]
      type = "choice"
      choices = ["table", "bars"]
      default = "table"
    ]] }))
    p:settings{ limit = 25 }
    assert.same({ "settings.limit=integer:25", "settings.view=string:table", "type=string:settings" },
                p:text())
  end)
end)

describe("event action", function()
  it("carries the request id, the action, ok and the result", function()
    local p = qtest.load(helpers.recorder({}, {
      grant = { "jobs.peek" }, jobs = { { queue = "email", state = "dead", error = "smtp down" } },
      source = [[function activate() qtui.jobs.find("1") end]],
    }))
    local f = helpers.fields(p)
    assert.equals("string:action", f.type)
    assert.equals("integer:1", f.id)
    assert.equals("string:find", f.action)
    assert.equals("boolean:true", f.ok)
    assert.is_nil(f.error)
    assert.equals("string:1", f["result.id"])
    assert.equals("string:dead", f["result.state"])
  end)

  it("carries the error when the request failed, and no result", function()
    local p = qtest.load(helpers.recorder({}, {
      grant = { "jobs.purge" },
      source = [[function activate() qtui.jobs.purge("email", "dead") end]],
    }))
    local f = helpers.fields(p)
    assert.equals("boolean:false", f.ok)
    assert.equals("string:purge", f.action)
    assert.equals("string:refused: destructive actions need an operator to confirm them", f.error)
    assert.is_nil(f.result)
  end)
end)

describe("event console_key", function()
  it("carries every key the operator pressed and where, for a plugin granted keys.read", function()
    local p = qtest.load(helpers.recorder({ "console_key" }, { grant = { "keys.read" } }))
    p:send{ type = "console_key", key = "ctrl r", screen = "dead" }
    assert.same({ "key=string:ctrl r", "screen=string:dead", "type=string:console_key" }, p:text())
  end)

  it("is not delivered without subscribing", function()
    local p = qtest.load(helpers.recorder({}, { grant = { "keys.read" } }))
    p:send{ type = "console_key", key = "j", screen = "queues" }
    assert.same({}, p:text())
  end)
end)
