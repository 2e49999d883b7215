-- Contract: qtui.text (API 1.1). Text is measured as the console's terminal draws it: made safe
-- first (control characters and bidi marks become '?'), a wide East Asian character takes two
-- columns and every other character one.
local helpers = require("helpers")

local shown = helpers.shown

describe("qtui.text.width", function()
  it("counts the columns the terminal draws", function()
    assert.same({ "5", "6", "3", "4", "5" }, shown([[
      return qtui.text.width("queue"), qtui.text.width("日本語"), qtui.text.width("a\27b"),
             qtui.text.width(1.25), qtui.text.width(false)
    ]]))
  end)

  it("names a wrong argument", function()
    local p = qtest.load(helpers.attempt([[local _ = qtui.text.width({})]]))
    assert.same({ "false", "init.lua:3: qtui.text.width: value must be text, a number or a boolean" }, p:text())
  end)
end)

describe("qtui.text.fit", function()
  it("cuts to the columns with an ellipsis, never splitting a wide character", function()
    assert.same({ "queue…", "日本…", "short", "", "?[31mred" }, shown([[
      return qtui.text.fit("queue-name", 6), qtui.text.fit("日本語テキスト", 6), qtui.text.fit("short", 10),
             qtui.text.fit("anything", 0), qtui.text.fit("\27[31mred", 20)
    ]]))
  end)

  it("takes whole columns and names a wrong argument", function()
    assert.same({ "abc…" }, shown([[return qtui.text.fit("abcdef", 4.7)]]))
    local p = qtest.load(helpers.attempt([[local _ = qtui.text.fit("x", 0/0)]]))
    assert.same({ "false", "init.lua:3: qtui.text.fit: columns must be a finite number" }, p:text())
  end)
end)

describe("qtui.text.pad", function()
  it("fits and aligns in exactly the columns", function()
    assert.same({ "[ab  ]", "[  ab]", "[ ab ]", "[abc…]", "[日本 ]" }, shown([[
      local pad = qtui.text.pad
      return "[" .. pad("ab", 4) .. "]", "[" .. pad("ab", 4, "right") .. "]", "[" .. pad("ab", 4, "center") .. "]",
             "[" .. pad("abcdef", 4) .. "]", "[" .. pad("日本", 5) .. "]"
    ]]))
  end)

  it("names a wrong alignment", function()
    local p = qtest.load(helpers.attempt([[local _ = qtui.text.pad("x", 3, "middle")]]))
    assert.same({ "false", "init.lua:3: qtui.text.pad: align must be one of left, right, center, not 'middle'" },
      p:text())
  end)
end)

describe("qtui.text.columns", function()
  it("lays out a line of cells, right-aligning negative widths, ready for qtui.render", function()
    local p = qtest.load{ source = [[
      function activate()
        local columns = qtui.text.columns
        qtui.render({
          columns({ "QUEUE", "READY", "AGE" }, { 8, -6, -5 }, nil, "bold"),
          columns({ "email-bulk-eu", 1234, { text = "late", style = "error" } }, { 8, -6, -5 }),
          columns({ "sms" }, { 8, -6, -5 }),
        })
      end
    ]] }
    assert.same({ "QUEUE     READY   AGE", "email-b…   1234  late", "sms                  " }, p:text())
    assert.same({ { text = "QUEUE     READY   AGE", style = "bold" } }, p:panel()[1].spans)
    assert.same({ { text = "email-b…   1234 ", style = "normal" }, { text = " late", style = "error" } },
      p:panel()[2].spans)
  end)

  it("shares the rest of the line among flexible columns and leaves out what does not fit", function()
    assert.same({ "[email           42 ok]", "[em…   42 ok]", "[e…   42 ok]", "[e…   42]", "[email]" }, shown([[
      local function line(width)
        return "[" .. qtui.text.columns({ "email", 42, "ok" }, { 0, -4, 2 }, width)[1] .. "]"
      end
      return line(21), line(11), line(10), line(7), line(5)
    ]]))
  end)

  it("names wrong arguments", function()
    local cases = {
      { [[qtui.text.columns({ "a" }, { 0 })]], "qtui.text.columns: a flexible column (width 0) needs the line's width" },
      { [[qtui.text.columns({ "a", "b" }, { 3 })]], "qtui.text.columns: 2 cells but only 1 widths" },
      { [[qtui.text.columns({ { text = "a", style = "loud" } }, { 3 })]],
        "qtui.text.columns: cell 1: unknown style 'loud'" },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt("local _ = " .. case[1]))
      assert.equals("false", p:text()[1])
      assert.matches(case[2], p:text()[2], 1, true)
    end
  end)
end)
