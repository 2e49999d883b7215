-- Contract: qtui.json (API 1.1). The host reads and writes JSON text with its own parser, so a
-- plugin spends no instructions on it; the sizes are bounded by the plugin's limits.
local helpers = require("helpers")

local shown = helpers.shown

describe("qtui.json.decode", function()
  it("reads JSON text into tables, integers, floats, strings and booleans", function()
    assert.same({ "2", "integer", "1.5", "float", "é😀", "true", "3", "nil" }, shown([[
      local doc = qtui.json.decode('{"n": 2, "x": 1.5, "s": "\\u00e9\\ud83d\\ude00", "ok": true, ' ..
                                   '"list": [1, 2, 3], "gone": null}')
      return doc.n, math.type(doc.n), doc.x, math.type(doc.x), doc.s, doc.ok, #doc.list, doc.gone
    ]]))
  end)

  it("gives qtui.json.null for a null item of an array and for a text that is only null", function()
    assert.same({ "3", "true", "true", "null" }, shown([[
      local list = qtui.json.decode("[1, null, 3]")
      return #list, list[2] == qtui.json.null, qtui.json.decode("null") == qtui.json.null, tostring(list[2])
    ]]))
  end)

  it("raises an error naming the byte where the text stops being JSON", function()
    local p = qtest.load(helpers.attempt([[local _ = qtui.json.decode('{"a" 1}')]]))
    assert.same({ "false", "init.lua:3: qtui.json.decode: expecting ':' delimiter at byte 6" }, p:text())
    p = qtest.load(helpers.attempt([[local _ = qtui.json.decode("[NaN]")]]))
    assert.same({ "false", "init.lua:3: qtui.json.decode: NaN is not JSON" }, p:text())
  end)

  it("refuses nesting deeper than the plugin's limit at once", function()
    local p = qtest.load(helpers.attempt([[local _ = qtui.json.decode(string.rep("[", 1000000))]]))
    assert.same({ "false", "init.lua:3: qtui.json.decode: nested deeper than 32 levels" }, p:text())
  end)

  it("refuses a text larger than a quarter of the plugin's memory", function()
    local p = qtest.load(helpers.attempt([[local _ = qtui.json.decode('"' .. string.rep("x", 2 * 1024 * 1024) .. '"')]],
      { manifest = "[limits]\nmemory_mib = 8\n" }))
    assert.same({ "false", "init.lua:3: qtui.json.decode: text of 2097154 bytes is longer than the plugin's "
                  .. "limit of 2097152" }, p:text())
    assert.equals("running", p:state())
  end)

  it("costs the plugin no instructions, so a whole payload fits a small budget", function()
    local p = qtest.load{ manifest = "[limits]\ninstructions_per_call = 100000\n", source = [[
      function activate()
        local parts = {}
        for i = 1, 2000 do parts[i] = '{"tenant": "acme", "n": ' .. i .. '}' end
        local doc = qtui.json.decode("[" .. table.concat(parts, ",") .. "]")
        qtui.render({ tostring(#doc), doc[2000].tenant })
      end
    ]] }
    assert.same({ "2000", "acme" }, p:text())
  end)
end)

describe("qtui.json.encode", function()
  it("writes compact JSON with sorted keys", function()
    assert.same({ '{"a":[1,2.5,"x",true,null],"b":{"c":{}},"é":"ü"}' }, shown([[
      return qtui.json.encode({ b = { c = {} }, a = { 1, 2.5, "x", true, qtui.json.null }, ["é"] = "ü" })
    ]]))
  end)

  it("round-trips what decode gives", function()
    local text = '{"list":[],"n":-3,"nested":{"deep":[[1],[null]]},"s":"tab\\there"}'
    assert.same({ text }, shown("return qtui.json.encode(qtui.json.decode([==[" .. text .. "]==]))"))
  end)

  it("writes a table that is not a sequence as an object with text keys", function()
    assert.same({ '{"1":"a","3":"c"}' }, shown([[return qtui.json.encode({ [1] = "a", [3] = "c" })]]))
  end)

  it("raises an error for values JSON cannot hold", function()
    for call, message in pairs({
      ["qtui.json.encode({ x = 0/0 })"] = "NaN and infinite numbers have no JSON form",
      ["qtui.json.encode({ f = print })"] = "bad argument #1: ['f']: a Lua function or coroutine cannot be "
        .. "passed to the host",
    }) do
      local p = qtest.load(helpers.attempt("local _ = " .. call))
      assert.same({ "false", "init.lua:3: qtui.json.encode: " .. message }, p:text())
    end
  end)
end)

describe("qtui.json.null", function()
  it("is read-only and shows as null", function()
    local p = qtest.load(helpers.attempt([[qtui.json.null.x = 1]]))
    assert.same({ "false", "init.lua:3: qtui.json.null is read-only" }, p:text())
    assert.same({ "null", "true" }, shown([[return tostring(qtui.json.null), rawget(qtui.json.null, "x") == nil]]))
  end)

  it("is the library's json.null too", function()
    assert.same({ "true" }, shown([[return require("qtui.json").null == qtui.json.null]]))
  end)
end)
