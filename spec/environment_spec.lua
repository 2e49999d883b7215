-- Contract: what plugin code finds in its environment besides qtui.
local helpers = require("helpers")

describe("plugin environment", function()
  it("has the safe parts of the standard library", function()
    local p = qtest.load(helpers.attempt([[
      return table.concat({
        string.format("%05.1f", math.pi), ("abc"):upper(), utf8.char(955), tostring(os.time() > 0),
        table.concat({1, 2}, "+"), type(coroutine.wrap), type(os.date("*t")),
      }, " ")
    ]]))
    assert.same({ "true", "003.1 ABC λ true 1+2 function table" }, p:text())
  end)

  it("has no files, processes, debug or bytecode", function()
    local p = qtest.load(helpers.attempt([[
      return table.concat({
        type(io), type(os.execute), type(os.getenv), type(debug), type(package), type(dofile),
        type(loadfile), type(string.dump), type(python),
      }, " ")
    ]]))
    assert.same({ "true", "nil nil nil nil nil nil nil nil nil" }, p:text())
  end)

  it("loads text chunks only", function()
    local p = qtest.load(helpers.attempt([[
      local chunk, err = load("\27Lua")
      return tostring(chunk) .. " | " .. err
    ]]))
    assert.equals("true", p:text()[1])
    assert.matches("^nil | .*binary", p:text()[2])
  end)

  it("requires the plugin's own modules only", function()
    local p = qtest.load{ files = { ["lib/shout.lua"] = "return function(s) return s:upper() end" }, source = [[
      local shout = require("lib.shout")
      function activate()
        local ok, err = pcall(require, "os")
        local up, err2 = pcall(require, "..secrets")
        qtui.render({shout("hi"), tostring(ok), tostring(up)})
      end
    ]] }
    assert.same({ "HI", "false", "false" }, p:text())
  end)

  it("keeps library tables read-only", function()
    local p = qtest.load(helpers.attempt([[string.upper = function() return "owned" end]]))
    assert.equals("false", p:text()[1])
    assert.matches("read-only", p:text()[2], 1, true)
  end)
end)
