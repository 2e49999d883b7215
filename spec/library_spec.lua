-- Contract: qtui's library for plugins. require("qtui.json"), require("qtui.text") and
-- require("qtui.queues") give modules that ship with qtui, not with the plugin: they are not
-- part of its bundle, a qtui upgrade may change them as it may change the API, and each plugin
-- compiles its own copy on the first require and runs it under its own limits. Names starting
-- with "qtui." are the library's alone; the tables are read-only.
local helpers = require("helpers")

local shown = helpers.shown

-- What a plugin sees when the expression `call` raises an error: { "false", the message }.
local function failure(call)
  local body = "local result = " .. call .. " -- not a tail call: the error names this line\nreturn result"
  return qtest.load(helpers.attempt(body)):text()
end

describe("require of qtui's library", function()
  it("works in every plugin, which carries no copy of it", function()
    assert.same({ "function", "function", "function" }, shown([[
      return type(require("qtui.json").decode), type(require("qtui.text").fit),
             type(require("qtui.queues").matcher)
    ]]))
  end)

  it("is never shadowed by the plugin's own files", function()
    local p = qtest.load(helpers.attempt([[return require("qtui.text").fit("hello world", 6)]],
      { files = { ["qtui/text.lua"] = "return { fit = function() return 'the plugin\\'s' end }" } }))
    assert.same({ "true", "hello…" }, p:text())
  end)

  it("does not shadow the plugin's own modules", function()
    assert.same({ "mine" }, shown([[return require("json").owner]],
      { files = { ["json.lua"] = "return { owner = 'mine' }" } }))
  end)

  it("names the library's modules when one is missing", function()
    local p = qtest.load(helpers.attempt([[return require("qtui.yaml")]]))
    assert.equals("false", p:text()[1])
    assert.matches("module 'qtui.yaml' not found: names starting with 'qtui.' are qtui's library "
      .. "(qtui.json, qtui.queues, qtui.text)", p:text()[2], 1, true)
  end)

  it("gives read-only tables", function()
    local p = qtest.load(helpers.attempt([[require("qtui.text").fit = function() return "owned" end]]))
    assert.equals("false", p:text()[1])
    assert.matches("'qtui.text' is read-only", p:text()[2], 1, true)
    p = qtest.load(helpers.attempt([[rawset(require("qtui.json"), "decode", print)]]))
    assert.matches("rawset: table is read-only", p:text()[2], 1, true)
  end)

  it("is unaffected by what the plugin does to its globals", function()
    assert.same({ "a b…" }, shown([[
      string, table, utf8 = nil, nil, nil
      tostring = function() return "owned" end
      return require("qtui.text").fit("a b c d", 4)
    ]]))
  end)

  it("runs under the plugin's limits, and its errors name the library's file", function()
    local p = qtest.load{ grant = { "selection.read" },
      manifest = "[limits]\ninstructions_per_call = 1000000\ncpu_ms_per_call = 1000\n", source = [[
        local queues = require("qtui.queues")
        function activate() qtui.subscribe("key") end
        function on_event(e)
          local _, count = queues.matcher(string.rep("queue, ", 60000))
          qtui.render({ "watching " .. count })
        end
      ]] }
    p:send{ type = "key", key = "x" }
    assert.equals("instruction limit exceeded (1,000,000 per call)", p:error().message)
    assert.equals("[qtui]/queues.lua", p:error().file)
    assert.equals("running", p:state())
  end)
end)

describe("library qtui.json", function()
  it("decode reads JSON text into tables, numbers and strings", function()
    assert.same({ "2", "1.5", "float", "é😀", "true", "null", "nil", "2" }, shown([[
      local json = require("qtui.json")
      local doc = json.decode('{"n": 2, "x": 1.5, "s": "\\u00e9\\ud83d\\ude00", "ok": true, ' ..
                              '"list": [1, null], "gone": null}')
      return doc.n, doc.x, math.type(doc.x), doc.s, doc.ok, doc.list[2], doc.gone, #doc.list
    ]]))
  end)

  it("decode gives nil and a message naming the byte where the text is not JSON", function()
    assert.same({
      "nil", "qtui.json.decode: expecting ':' delimiter at byte 6",
      "qtui.json.decode: expecting ',' delimiter at byte 3",
      "qtui.json.decode: extra data at byte 4",
    }, shown([[
      local json = require("qtui.json")
      local value, err = json.decode('{"a" 1}')
      return value, err, select(2, json.decode("[01]")), (select(2, json.decode("[] x")))
    ]]))
  end)

  it("decode refuses nesting deeper than json.MAX_DEPTH at once", function()
    assert.same({ "32", "qtui.json.decode: nested deeper than 32 levels", "table" }, shown([[
      local json = require("qtui.json")
      return json.MAX_DEPTH, (select(2, json.decode(string.rep("[", 1000000)))),
             type(json.decode(string.rep("[", 32) .. string.rep("]", 32)))
    ]]))
  end)

  it("decode names a wrong argument", function()
    assert.same({ "false", "init.lua:3: bad argument #1 to 'qtui.json.decode' (string expected, got number)" },
      failure([[require("qtui.json").decode(42)]]))
  end)

  it("field reads one field of a payload within a budget of work", function()
    assert.same({ "acme", "true", "nil", "false", "nil", "true" }, shown([[
      local json = require("qtui.json")
      local budget = json.budget(60000)
      local tenant, complete = json.field('{"meta": {"tenant": "acme"}}', "meta.tenant", budget)
      local far, read = json.field('{"pad": "' .. string.rep("x", 10000) .. '", "tenant": "late"}', "tenant")
      local missing, whole = json.field("not json", "tenant")
      return tenant, complete, far, read, missing, whole
    ]]))
  end)
end)

describe("library qtui.text", function()
  it("fit cuts to a number of columns with an ellipsis, wide characters counting two", function()
    assert.same({ "queue…", "日本…", "short", "", "5" }, shown([[
      local text = require("qtui.text")
      return text.fit("queue-name", 6), text.fit("日本語テキスト", 5), text.fit("short", 10),
             text.fit("anything", 0), text.width("日本a")
    ]]))
  end)

  it("left and right pad to exactly the columns", function()
    assert.same({ "[ab  ]", "[  ab]", "[abc…]" }, shown([[
      local text = require("qtui.text")
      return "[" .. text.left("ab", 4) .. "]", "[" .. text.right("ab", 4) .. "]",
             "[" .. text.left("abcdef", 4) .. "]"
    ]]))
  end)

  it("clean shows what a terminal would obey as ?", function()
    assert.same({ "a?[31mb?c" }, shown([[return require("qtui.text").clean("a\27[31mb\7c")]]))
  end)

  it("wrap, count, duration and number", function()
    assert.same({ "one two", "three …", "1 job", "2 jobs", "3m05s", "12.3k" }, shown([[
      local text = require("qtui.text")
      local lines = text.wrap("one two three four", 7, 2)
      return lines[1], lines[2], text.count(1, "job"), text.count(2, "job"), text.duration(185),
             text.number(12345)
    ]]))
  end)

  it("duration_holds says how long a growing wait shows the same duration", function()
    assert.same({ "0.5", "0.25", "59.5", "3599.5", "10.5", "inf" }, shown([[
      local text = require("qtui.text")
      local holds = text.duration_holds
      -- 185 s shows 3m05s until 185.5; 3600 s shows 1h00m until 3659.5; a day 1d00h until 25 h
      return holds(185), holds(185.25), holds(3600), holds(86400), holds(-10), holds(nil)
    ]]))
    assert.same({ "3m05s", "3m06s", "1h00m", "1h01m" }, shown([[
      local text = require("qtui.text")
      local a, b = 185.2, 3600.7
      return text.duration(a + text.duration_holds(a) - 0.01), text.duration(a + text.duration_holds(a)),
             text.duration(b + text.duration_holds(b) - 0.01), text.duration(b + text.duration_holds(b))
    ]]))
    assert.same({ "-", "-", "0s", "-", "inf", "inf" }, shown([[
      local text = require("qtui.text")
      return text.duration(math.huge), text.duration(1e300), text.duration(-math.huge), text.duration(0/0),
             text.duration_holds(1e300), text.duration_holds(0/0)
    ]]))
  end)

  it("columns lays out a line as qtui.text.columns does, whatever the cells hold", function()
    assert.same({ "true", "true", "true", "[email       42 late ]", "[日本…   1]" }, shown([[
      local text = require("qtui.text")
      local function same(a, b)
        return qtui.json.encode(a) == qtui.json.encode(b)
      end
      local plain = { "email", 42, { text = "late", style = "error" } }
      local wide = { "日本語テキスト", 1.0 }
      local function joined(line)
        local parts = {}
        for i, span in ipairs(line) do parts[i] = type(span) == "table" and span.text or span end
        return "[" .. table.concat(parts) .. "]"
      end
      return same(text.columns(plain, { 0, -4, 5 }, 20), qtui.text.columns(plain, { 0, -4, 5 }, 20)),
             same(text.columns(wide, { 0, -4 }, 10), qtui.text.columns(wide, { 0, -4 }, 10)),
             same(text.columns({}, {}), qtui.text.columns({}, {})),
             joined(text.columns(plain, { 0, -4, 5 }, 20)), joined(text.columns({ "日本語テキスト", 1 }, { 5, -3 }))
    ]]))
    assert.same({ "false", "init.lua:3: qtui.text.columns: 2 cells but only 1 widths" },
      failure([[require("qtui.text").columns({ "a", "b" }, { 3 })]]))
  end)

  it("names a wrong argument", function()
    assert.same({ "false", "init.lua:3: bad argument #2 to 'qtui.text.fit' (finite number expected, got string)" },
      failure([[require("qtui.text").fit("x", "wide")]]))
  end)
end)

describe("library qtui.queues", function()
  it("matcher tells which queues a setting names", function()
    assert.same({ "2", "true", "true", "false", "true" }, shown([[
      local watched, count = require("qtui.queues").matcher(" email , billing-* ")
      local all = require("qtui.queues").matcher("")
      return count, watched("email"), watched("billing-eu"), watched("sms"), all("sms")
    ]]))
  end)
end)
