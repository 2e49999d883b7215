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
