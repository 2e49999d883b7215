-- Contract: qtui.render, the panel a plugin draws.
local helpers = require("helpers")

local STYLES = { "normal", "dim", "bold", "title", "accent", "ok", "warn", "error" }

describe("qtui.render", function()
  it("shows strings as lines, each one span in the normal style", function()
    local p = qtest.load{ source = [[function activate() qtui.render({"one", "two"}) end]] }
    assert.same({ "one", "two" }, p:text())
    assert.same({ { text = "one", style = "normal" } }, p:panel()[1].spans)
  end)

  it("replaces the whole panel on every call", function()
    local p = qtest.load{ source = [[
      function activate()
        qtui.render({"first", "draft"})
        qtui.render({"second"})
      end
    ]] }
    assert.same({ "second" }, p:text())
  end)

  it("empties the panel with an empty list", function()
    local p = qtest.load{ source = [[
      function activate() qtui.render({"x"}); qtui.render({}) end
    ]] }
    assert.same({}, p:text())
  end)

  it("draws spans in every style of the palette", function()
    local p = qtest.load{ source = [[
      function activate()
        local line = {}
        for _, style in ipairs({"normal", "dim", "bold", "title", "accent", "ok", "warn", "error"}) do
          line[#line + 1] = {text = style, style = style}
        end
        qtui.render({line, {"plain ", {text = "default"}}})
      end
    ]] }
    local lines = p:panel()
    for i, style in ipairs(STYLES) do
      assert.same({ text = style, style = style }, lines[1].spans[i])
    end
    assert.equals("normaldimboldtitleaccentokwarnerror", lines[1].text)
    assert.same({ { text = "plain ", style = "normal" }, { text = "default", style = "normal" } },
                lines[2].spans)
  end)

  it("refuses a style outside the palette", function()
    local p = qtest.load(helpers.attempt([[
      qtui.render({{{text = "x", style = "blink"}}})
    ]]))
    assert.same({ "false", "init.lua:3: qtui.render: line 1: unknown style 'blink' "
                  .. "(styles: normal, dim, bold, title, accent, ok, warn, error)" }, p:text())
  end)

  it("leaves the panel as it was when a render is refused", function()
    local p = qtest.load{ source = [[
      function activate()
        qtui.render({"before"})
        pcall(qtui.render, {{{text = "x", style = "blink"}}})
      end
    ]] }
    assert.same({ "before" }, p:text())
    assert.equals("running", p:state())
  end)

  it("shows control characters as visible notation, in lines and spans", function()
    local p = qtest.load{ source = [[
      function activate()
        qtui.render({
          "\27]0;owned\7",
          "tab\there\nnewline",
          {{text = "\27[31mred", style = "error"}},
          "\u{202E}reversed",
        })
      end
    ]] }
    assert.same({ "^[]0;owned^G", "tab^Ihere^Jnewline", "^[[31mred", "<U+202E>reversed" }, p:text())
    assert.equals("error", p:panel()[3].spans[1].style)
  end)

  it("refuses lines that are not strings or lists of spans", function()
    local cases = {
      { [[qtui.render("text")]], "init.lua:3: qtui.render: render takes a list of lines" },
      { [[qtui.render({42})]], "init.lua:3: qtui.render: line 1 must be a string or a list of spans" },
      { [[qtui.render({{{text = "x", colour = "red"}}})]],
        "init.lua:3: qtui.render: line 1: a span is a string or {text=, style=}" },
      { [[qtui.render({{{text = 7}}})]], "init.lua:3: qtui.render: line 1 text must be a string" },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt(case[1]))
      local ok, err = table.unpack(p:text())
      assert.equals("false", ok)
      assert.equals(case[2], err:sub(1, #case[2]))
    end
  end)

  it("takes at most 1000 lines of at most 2000 characters, 64 KiB and 32768 cells in all", function()
    local p = qtest.load(helpers.attempt([[
      local lines = {}
      for i = 1, 1000 do lines[i] = string.rep("x", 30) end
      qtui.render(lines)
      lines[1001] = "one too many"
      qtui.render(lines)
    ]]))
    assert.same({ "false", "init.lua:7: qtui.render: render takes at most 1000 lines" }, p:text())
    local q = qtest.load(helpers.attempt([[qtui.render({string.rep("x", 2001)})]]))
    assert.same({ "false", "init.lua:3: qtui.render: line 1 is longer than 2000 characters" }, q:text())
    local r = qtest.load(helpers.attempt([[
      local lines = {}
      for i = 1, 40 do lines[i] = string.rep("x", 2000) end
      qtui.render(lines)
    ]]))
    assert.same({ "false", "init.lua:5: qtui.render: render takes at most 65536 bytes of text in all, not 80000" },
      r:text())
    local wide = qtest.load(helpers.attempt([[
      local lines = {}
      for i = 1, 20 do lines[i] = string.rep("界", 1000) end
      qtui.render(lines)
    ]]))
    assert.same({ "false", "init.lua:5: qtui.render: render takes at most 32768 cells of text in all, not 40000" },
      wide:text())
  end)
end)
