-- Contract: qtui.asset (API 1.1), the text of the plugin's own files, read-only and bounded.
local helpers = require("helpers")

describe("qtui.asset", function()
  it("gives the text of a file of the plugin's folder", function()
    local p = qtest.load{
      files = { ["data/regions.json"] = '{"eu": ["fr", "de"]}', ["README.md"] = "# hello\nsecond line" },
      source = [[
        function activate()
          local readme = qtui.asset("./README.md")
          qtui.render({qtui.asset("data/regions.json"), tostring(#readme), readme:match("second line")})
        end
      ]],
    }
    assert.same({ '{"eu": ["fr", "de"]}', "19", "second line" }, p:text())
  end)

  it("reads the files as they were when the plugin was loaded (the code the operator allowed)", function()
    local p = qtest.load{
      files = { ["note.txt"] = "first" },
      source = [[
        function activate() qtui.subscribe("key") end
        function on_event(e) qtui.render({qtui.asset("note.txt")}) end
      ]],
      grant = { "selection.read" },
    }
    p:send{ type = "key", key = "x" }
    assert.same({ "first" }, p:text())
  end)

  it("refuses paths outside the plugin, files it does not have, and is read-only", function()
    local cases = {
      { [[qtui.asset("../secrets.txt")]], "'../secrets.txt' must be a relative path inside the plugin folder, "
        .. "without '..'" },
      { [[qtui.asset("/etc/passwd")]], "'/etc/passwd' must be a relative path inside the plugin folder, "
        .. "without '..'" },
      { [[qtui.asset("missing.txt")]], "no file 'missing.txt' in the plugin (files: dump.lua, init.lua, "
        .. "manifest.toml)" },
      { [[qtui.asset(42)]], "asset path must be a string, not number" },
      { [[qtui.asset = nil]], nil },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt(case[1], { files = { ["dump.lua"] = helpers.dump } }))
      local ok, err = table.unpack(p:text())
      assert.equals("false", ok)
      if case[2] then
        assert.equals("init.lua:3: qtui.asset: " .. case[2], err)
      else
        assert.matches("read%-only", err)
      end
    end
  end)

  it("refuses files too big for the plugin to hold", function()
    local p = qtest.load(helpers.attempt([[qtui.asset("big.txt")]], { files = { ["big.txt"] = string.rep("x", 262145) } }))
    assert.same({ "false", "init.lua:3: qtui.asset: big.txt has 262145 bytes, more than the 262144 an asset may have" },
                p:text())
  end)
end)
