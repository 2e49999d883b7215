-- Contract: qtui.panel.open and qtui.panel.close (API 1.1), panels opened at run time, each its
-- own zone: drawn with qtui.render(lines, name), with key, mouse and resize events of its own.
local helpers = require("helpers")

describe("qtui.panel.open", function()
  it("opens panels beside the main one, each drawn on its own", function()
    local p = qtest.load{ source = [[
      function activate()
        qtui.panel.open("errors", {title = "Errors", rows = 4})
        qtui.panel.open("tenants")
        qtui.render({"main view"})
        qtui.render({"no errors"}, "errors")
        qtui.render({"acme", "globex"}, "tenants")
      end
    ]] }
    assert.same({ { name = "errors", title = "Errors", rows = 4 }, { name = "tenants", title = "tenants" } },
                p:panels())
    assert.same({ "main view" }, p:text())
    assert.same({ "main view" }, p:text("main"))
    assert.same({ "no errors" }, p:text("errors"))
    assert.same({ "acme", "globex" }, p:text("tenants"))
  end)

  it("changes the title and height of a panel that is open, keeping its lines", function()
    local p = qtest.load{ source = [[
      function activate()
        qtui.panel.open("errors", {title = "Errors"})
        qtui.render({"kept"}, "errors")
        qtui.panel.open("errors", {title = "Errors (3)", rows = 2})
      end
    ]] }
    assert.same({ { name = "errors", title = "Errors (3)", rows = 2 } }, p:panels())
    assert.same({ "kept" }, p:text("errors"))
  end)

  it("gives each panel its own keys, clicks and sizes", function()
    local p = qtest.load{ grant = { "selection.read" }, source = [[
      local seen = {}
      function activate()
        qtui.subscribe("key", "mouse")
        qtui.panel.open("side")
      end
      function on_event(e)
        seen[#seen + 1] = e.type .. "@" .. e.panel
        qtui.render(seen, "side")
      end
    ]] }
    p:send{ type = "key", key = "j", panel = "side" }
    p:send{ type = "key", key = "k" }
    p:send{ type = "mouse", action = "press", column = 1, row = 0, panel = "side" }
    p:send{ type = "resize", width = 30, height = 5, panel = "side" }
    p:send{ type = "resize", width = 30, height = 5, panel = "side" } -- the same size: no event
    assert.same({ "key@side", "key@main", "mouse@side", "resize@side" }, p:text("side"))
  end)

  it("refuses 'main', bad names, bad options and a ninth panel", function()
    local cases = {
      { [[qtui.panel.open("main")]], "qtui.panel.open: main is the plugin's own panel: it is always open" },
      { [[qtui.panel.open("Side!")]], "qtui.panel.open: a panel name is lowercase letters, digits and -, "
        .. "starting with a letter (at most 40)" },
      { [[qtui.panel.open("side", {colour = "red"})]], "qtui.panel.open: panel.open takes a name and "
        .. "optionally {title=, rows=}" },
      { [[qtui.panel.open("side", {rows = 0})]], "qtui.panel.open: panel rows must be a whole number from 1 to 200" },
      { [[for i = 1, 9 do qtui.panel.open("p" .. i) end]], "qtui.panel.open: at most 8 panels besides main "
        .. "(open: main, p1, p2, p3, p4, p5, p6, p7, p8)" },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt(case[1]))
      assert.same({ "false", "init.lua:3: " .. case[2] }, p:text())
    end
  end)

  it("is the only way to draw in another panel", function()
    local p = qtest.load(helpers.attempt([[qtui.render({"x"}, "side")]]))
    assert.same({ "false", "init.lua:3: qtui.render: no panel 'side' is open (open: main)" }, p:text())
  end)

  it("leaves a reloaded plugin with only the panels its new code opens", function()
    local p = qtest.load{ source = [[function activate() qtui.panel.open("old") end]] }
    p:reload{ source = [[function activate() qtui.panel.open("new") end]] }
    assert.same({ { name = "new", title = "new" } }, p:panels())
  end)
end)

describe("qtui.panel.close", function()
  it("closes a panel: its lines are gone and drawing there is refused", function()
    local p = qtest.load{ source = [[
      function activate()
        qtui.panel.open("side")
        qtui.render({"soon gone"}, "side")
        qtui.panel.close("side")
        local ok, err = pcall(qtui.render, {"again"}, "side")
        qtui.render({tostring(ok), err})
      end
    ]] }
    assert.same({}, p:panels())
    assert.same({ "false", "qtui.render: no panel 'side' is open (open: main)" }, p:text())
  end)

  it("refuses a panel that is not open", function()
    local p = qtest.load(helpers.attempt([[qtui.panel.close("side")]]))
    assert.same({ "false", "init.lua:3: qtui.panel.close: no panel 'side' is open (open: main)" }, p:text())
  end)
end)
