-- Contract: qtui.publish and qtui.listen, and how the bus is scoped: every plugin owns the
-- topics under plugin.<its name>.; other topics need bus.publish or bus.subscribe.
local helpers = require("helpers")

-- A plugin showing every message it receives on topics starting with `prefix`.
local function listener(prefix, options)
  options.source = string.format([[
    local got = {}
    function activate() qtui.listen(%q) end
    function on_event(e)
      if e.type == "message" then
        got[#got + 1] = e.sender .. " " .. e.topic .. " " .. tostring(e.data.n)
        qtui.render(got)
      end
    end
  ]], prefix)
  return options
end

-- Options for a plugin that publishes each {topic, n} of `messages` when it starts.
local function publisher(name, messages, grant)
  local calls = {}
  for _, m in ipairs(messages) do
    calls[#calls + 1] = string.format("qtui.publish(%q, {n = %d})", m[1], m[2])
  end
  return { name = name, grant = grant, source = "function activate() " .. table.concat(calls, "; ") .. " end" }
end

describe("qtui.publish", function()
  it("sends plain data to the plugins listening, with the sender's name", function()
    local l = qtest.load(listener("plugin.news.", { name = "listener", grant = { "bus.subscribe" } }))
    l:add(publisher("news", { { "plugin.news.headline", 1 }, { "plugin.news.sport", 2 } }))
    assert.same({ "news plugin.news.headline 1", "news plugin.news.sport 2" }, l:text())
  end)

  it("needs no capability on the plugin's own topics", function()
    local p = qtest.load(helpers.attempt([[qtui.publish("plugin.spec-plugin.state", {n = 1})]]))
    assert.same({ "true", "nil" }, p:text())
  end)

  it("needs bus.publish for any other topic, including other plugins' topics", function()
    for _, topic in ipairs({ "alerts.disk", "plugin.other.state", "plugin.spec-plugin" }) do
      local p = qtest.load(helpers.attempt(string.format("qtui.publish(%q, 1)", topic)))
      assert.equals("false", p:text()[1])
      assert.matches("qtui.publish: publish to " .. topic .. " refused: capability bus.publish is not_requested",
                     p:text()[2], 1, true)
    end
    local granted = qtest.load(helpers.attempt([[qtui.publish("alerts.disk", {free = 1})]], { grant = { "bus.publish" } }))
    assert.same({ "true", "nil" }, granted:text())
  end)

  it("is not delivered back to the sender", function()
    local p = qtest.load{ name = "echo", grant = { "timers" }, source = [[
      local got = 0
      function activate() qtui.listen("plugin.echo.") ; qtui.after("send", 1) end
      function on_event(e)
        if e.type == "timer" then qtui.publish("plugin.echo.ping", {n = 1}) end
        if e.type == "message" then got = got + 1 end
        qtui.render({"messages " .. got})
      end
    ]] }
    qtest.advance(1)
    assert.same({ "messages 0" }, p:text())
  end)

  it("refuses data that is not plain and topics that are not dotted words", function()
    local p = qtest.load(helpers.attempt([[qtui.publish("plugin.spec-plugin.x", {f = print})]]))
    assert.equals("false", p:text()[1])
    assert.matches("^init%.lua:3: qtui%.publish: bad argument #2: .*a Lua function or coroutine "
                   .. "cannot be passed to the host$", p:text()[2])
    local q = qtest.load(helpers.attempt([[qtui.publish("plugin..x", 1)]]))
    assert.same({ "false", "init.lua:3: qtui.publish: a topic is dot-separated words of letters, digits, _ and -" },
                q:text())
  end)
end)

describe("qtui.listen", function()
  it("receives only topics starting with the prefix", function()
    local l = qtest.load(listener("plugin.news.sport", { name = "listener", grant = { "bus.subscribe" } }))
    l:add(publisher("news", { { "plugin.news.headline", 1 }, { "plugin.news.sport.football", 2 } }))
    assert.same({ "news plugin.news.sport.football 2" }, l:text())
  end)

  it("needs no capability on the plugin's own topics", function()
    local p = qtest.load(helpers.attempt([[qtui.listen("plugin.spec-plugin.")]]))
    assert.same({ "true", "nil" }, p:text())
  end)

  it("needs bus.subscribe for other plugins' topics and global topics", function()
    for _, prefix in ipairs({ "plugin.news.", "alerts." }) do
      local p = qtest.load(helpers.attempt(string.format("qtui.listen(%q)", prefix)))
      assert.equals("false", p:text()[1])
      assert.matches("qtui.listen: listen to " .. prefix .. " refused: capability bus.subscribe is not_requested",
                     p:text()[2], 1, true)
      assert.same({ capability = "bus.subscribe", outcome = "requested", detail = "listen to " .. prefix },
                  p:audit()[1])
      assert.equals("not_requested", p:audit()[2].reason)
    end
  end)

  it("hears global topics published by a plugin with bus.publish", function()
    local l = qtest.load(listener("alerts.", { name = "listener", grant = { "bus.subscribe" } }))
    l:add(publisher("watcher", { { "alerts.disk", 7 } }, { "bus.publish" }))
    assert.same({ "watcher alerts.disk 7" }, l:text())
  end)
end)
