-- Contract: the plugin's callbacks, hot reload and the API version a manifest names.
local helpers = require("helpers")

describe("callback activate", function()
  it("is called once with the plugin's context", function()
    local p = qtest.load{
      name = "tenant-sla", version = "1.2.0", grant = { "stats.read", "timers" }, deny = { "notify" },
      manifest = '[settings.limit]\ntype = "number"\ndefault = 5\n',
      files = { ["dump.lua"] = helpers.dump },
      source = [[function activate(ctx) qtui.render(require("dump").lines(ctx)) end]],
    }
    assert.same({
      "api=string:1.1.0",
      "granted.1=string:stats.read",
      "granted.2=string:timers",
      "name=string:tenant-sla",
      "settings.limit=integer:5",
      "version=string:1.2.0",
    }, p:text())
  end)

  it("is optional", function()
    local p = qtest.load{ source = "-- nothing to do" }
    assert.equals("running", p:state())
  end)
end)

describe("callback on_event", function()
  it("gets the events in the order they happened", function()
    local p = qtest.load{ grant = { "selection.read", "timers" }, source = [[
      local seen = {}
      function activate() qtui.subscribe("key"); qtui.after("t", 1) end
      function on_event(e)
        seen[#seen + 1] = e.type .. ":" .. (e.key or e.name)
        qtui.render({table.concat(seen, " ")})
      end
    ]] }
    p:send{ type = "key", key = "a" }
    qtest.advance(1)
    p:send{ type = "key", key = "b" }
    assert.same({ "key:a timer:t key:b" }, p:text())
  end)
end)

describe("callback deactivate", function()
  it("runs when the plugin stops; what it returns is handed over", function()
    local p = qtest.load{ source = [[
      function deactivate() return {cursor = "42", seen = {"a", "b"}} end
    ]] }
    assert.same({ cursor = "42", seen = { "a", "b" } }, p:stop())
    assert.equals("stopped", p:state())
  end)

  it("hands its state to the next version's activate on reload", function()
    local p = qtest.load{ source = [[
      local count = 0
      function activate(ctx)
        count = ctx.state and ctx.state.count or 0
        qtui.render({"count " .. count})
      end
      function deactivate() return {count = count + 1} end
    ]] }
    assert.same({ "count 0" }, p:text())
    p:reload{ source = [[
      function activate(ctx) qtui.render({"version two, count " .. ctx.state.count}) end
    ]] }
    assert.same({ "version two, count 1" }, p:text())
  end)

  it("is optional", function()
    local p = qtest.load{ source = "function activate() end" }
    assert.is_nil(p:stop())
  end)
end)

describe("hot reload", function()
  local OLD = [[
    local version = "old"
    function activate(ctx) qtui.render({version .. " code, state " .. tostring(ctx.state and ctx.state.n)}) end
    function deactivate() return {n = 7} end
  ]]

  it("keeps the old code running when the new code does not compile", function()
    local p = qtest.load{ source = OLD }
    p:reload{ source = "function activate(" }
    assert.equals("running", p:state())
    assert.same({ "old code, state nil" }, p:text())
    assert.equals("init.lua", p:error().file)
  end)

  it("keeps the old code running, with its state, when the new activate fails", function()
    local p = qtest.load{ source = OLD }
    p:reload{ source = "function activate(ctx)\n  error('new code is broken')\nend" }
    assert.equals("running", p:state())
    assert.same({ "old code, state 7" }, p:text())
    assert.same({ message = "new code is broken", file = "init.lua", line = 2,
                  text = "plugin spec-plugin: init.lua:2: new code is broken" }, p:error())
  end)
end)

describe("api version", function()
  it("is refused when the manifest targets another major version", function()
    assert.has_error(function()
      qtest.load{ api = "2", source = "function activate() end" }
    end, "manifest.toml:4: api: plugin targets API 2; this qtui supports API 1")
  end)

  it("must be given as the major version", function()
    assert.error_matches(function()
      qtest.load{ api = "1.0", source = "function activate() end" }
    end, 'manifest.toml:4: api: must be the API major version as a string, e.g. "1"', 1, true)
  end)
end)
