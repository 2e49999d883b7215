-- Contract: qtui.notify, qtui.log and print.
local helpers = require("helpers")

describe("qtui.notify", function()
  it("shows a message in the status bar, at info level unless told", function()
    local p = qtest.load{ grant = { "notify" }, source = [[
      function activate()
        qtui.notify("3 jobs are dead")
        qtui.notify("disk nearly full", "warning")
        qtui.notify("queue gone", "error")
      end
    ]] }
    assert.same({
      { text = "3 jobs are dead", level = "info" },
      { text = "disk nearly full", level = "warning" },
      { text = "queue gone", level = "error" },
    }, p:notices())
  end)

  it("shows control characters as visible notation", function()
    local p = qtest.load{ grant = { "notify" }, source = [[
      function activate() qtui.notify("\27]52;c;cGF5bG9hZA==\7") end
    ]] }
    assert.same({ { text = "^[]52;c;cGF5bG9hZA==^G", level = "info" } }, p:notices())
  end)

  it("refuses other levels and long messages", function()
    local p = qtest.load(helpers.attempt([[qtui.notify("x", "debug")]], { grant = { "notify" } }))
    assert.same({ "false", "init.lua:3: qtui.notify: notify level must be info, warning or error" }, p:text())
    local q = qtest.load(helpers.attempt([[qtui.notify(string.rep("x", 501))]], { grant = { "notify" } }))
    assert.same({ "false", "init.lua:3: qtui.notify: notify text is longer than 500 characters" }, q:text())
    assert.same({}, q:notices())
  end)
end)

describe("qtui.log", function()
  it("writes lines to the plugin's log at the given level; print logs at info", function()
    local p = qtest.load{ source = [[
      function activate()
        qtui.log("debug", "starting")
        qtui.log("warning", "no queues yet")
        print("hello", 42)
      end
    ]] }
    assert.same({ "debug: starting", "warning: no queues yet", "info: hello^I42" }, p:log())
  end)

  it("shows control characters as visible notation", function()
    local p = qtest.load{ source = [[function activate() qtui.log("info", "a\27[2Jb") end]] }
    assert.same({ "info: a^[[2Jb" }, p:log())
  end)

  it("refuses an unknown level", function()
    local p = qtest.load(helpers.attempt([[qtui.log("loud", "x")]]))
    assert.same({ "false", "init.lua:3: qtui.log: log level must be one of debug, info, warning, error" },
                p:text())
  end)

  -- The calling convention of every qtui function, shown on this one.
  it("names an argument left out, and ignores arguments beyond the last, as Lua does", function()
    local p = qtest.load(helpers.attempt([[qtui.log("info")]]))
    assert.same({ "false", "init.lua:3: qtui.log: missing argument: text" }, p:text())
    local q = qtest.load(helpers.attempt([[qtui.log("info", "hi", "extra", 3)]]))
    assert.same({ "true", "nil" }, q:text())
    assert.same({ "info: hi" }, q:log())
  end)
end)
