-- Contract: qtui.setting and qtui.settings, the operator's values for the manifest's settings.
local helpers = require("helpers")

local SCHEMA = [[
  [settings.limit]
  type = "number"
  default = 10
  min = 1
  [settings.title]
  type = "string"
  default = "Dead jobs"
]]

describe("qtui.setting", function()
  it("gives a setting's default, or the operator's value", function()
    local show = [[function activate() qtui.render({qtui.setting("title") .. " " .. qtui.setting("limit")}) end]]
    local p = qtest.load{ manifest = SCHEMA, source = show }
    assert.same({ "Dead jobs 10" }, p:text())
    local q = qtest.load{ manifest = SCHEMA, source = show, settings = { limit = 3 } }
    assert.same({ "Dead jobs 3" }, q:text())
  end)

  it("gives the new value after the operator changed it", function()
    local p = qtest.load{ manifest = SCHEMA, source = [[
      function on_event(e) qtui.render({"limit " .. qtui.setting("limit")}) end
    ]] }
    p:settings{ limit = 50 }
    assert.same({ "limit 50" }, p:text())
  end)

  it("refuses a setting the manifest does not declare", function()
    local p = qtest.load(helpers.attempt([[local value = qtui.setting("colour")]], { manifest = SCHEMA }))
    assert.same({ "false", "init.lua:3: qtui.setting: no setting 'colour' in the manifest "
                  .. "(declared: limit, title)" }, p:text())
  end)

  it("cannot be changed to a value the schema refuses", function()
    local p = qtest.load{ manifest = SCHEMA, source = "" }
    assert.error_matches(function() p:settings{ limit = 0 } end, "limit: 0 is below the minimum 1", 1, true)
    assert.error_matches(function() p:settings{ limit = "many" } end, "limit: must be a number", 1, true)
  end)
end)

describe("qtui.settings", function()
  it("gives every setting as a table", function()
    local p = qtest.load{ manifest = SCHEMA, settings = { title = "Retries" }, files = { ["dump.lua"] = helpers.dump },
                         source = [[function activate() qtui.render(require("dump").lines(qtui.settings())) end]] }
    assert.same({ "limit=integer:10", "title=string:Retries" }, p:text())
  end)

  it("is empty for a plugin without settings", function()
    local p = qtest.load{ files = { ["dump.lua"] = helpers.dump },
                         source = [[function activate() qtui.render(require("dump").lines(qtui.settings())) end]] }
    assert.same({ "=table:empty" }, p:text())
  end)
end)

describe("qtui.update_settings", function()
  it("changes the plugin's own settings, kept like the operator's values", function()
    local p = qtest.load{ manifest = SCHEMA, files = { ["dump.lua"] = helpers.dump }, source = [[
      function activate()
        local all = qtui.update_settings({limit = 3})
        qtui.render(require("dump").lines({returned = all, now = qtui.setting("limit")}))
      end
    ]] }
    assert.same({ "now=integer:3", "returned.limit=integer:3", "returned.title=string:Dead jobs" }, p:text())
    assert.same({ limit = 3, title = "Dead jobs" }, p:settings{})  -- what the console has stored
    assert.matches("settings changed by the plugin: limit=3", p:log()[1], 1, true)
  end)

  it("checks every value against the schema and changes nothing unless all are valid", function()
    local cases = {
      { [[qtui.update_settings({title = "x", limit = 0})]], "limit: 0 is below the minimum 1" },
      { [[qtui.update_settings({limit = "many"})]], "limit: must be a number, not a string" },
      { [[qtui.update_settings({colour = "red"})]], "no setting 'colour' in the manifest (declared: limit, title)" },
      { [[qtui.update_settings("limit=3")]], "update_settings takes a table of setting names and values" },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt(case[1], { manifest = SCHEMA }))
      assert.same({ "false", "init.lua:3: qtui.update_settings: " .. case[2] }, p:text())
      assert.same({ limit = 10, title = "Dead jobs" }, p:settings{})
    end
  end)

  it("sends no settings event to the plugin that made the change", function()
    local p = qtest.load{ manifest = SCHEMA, source = [[
      local events = 0
      function activate() qtui.update_settings({limit = 4}) end
      function on_event(e)
        if e.type == "settings" then events = events + 1 end
        qtui.render({"settings events " .. events .. ", limit " .. qtui.setting("limit")})
      end
    ]] }
    p:send{ type = "resize", width = 40, height = 3 }
    assert.same({ "settings events 0, limit 4" }, p:text())
  end)
end)
