-- Contract: qtui.command, commands on the console's command line.
local helpers = require("helpers")

describe("qtui.command", function()
  it("registers a command with its help; each use arrives as a command event", function()
    local p = qtest.load{ grant = { "commands" }, source = [[
      function activate()
        qtui.command("requeue-dead", "requeue every dead job of a queue")
        qtui.command("clear", "clear the panel")
      end
      function on_event(e)
        if e.type == "command" then qtui.render({e.name .. "(" .. e.args .. ")"}) end
      end
    ]] }
    assert.same({ ["requeue-dead"] = "requeue every dead job of a queue", clear = "clear the panel" },
                p:commands())
    p:command("requeue-dead", "email")
    assert.same({ "requeue-dead(email)" }, p:text())
    p:command("clear")
    assert.same({ "clear()" }, p:text())
  end)

  it("refuses names other than lowercase letters, digits and -", function()
    local p = qtest.load(helpers.attempt([[qtui.command("Requeue!", "x")]], { grant = { "commands" } }))
    assert.same({ "false", "init.lua:3: qtui.command: command name must be lowercase letters, digits "
                  .. "and -, starting with a letter" }, p:text())
  end)

  it("shows control characters in the help as visible notation", function()
    local p = qtest.load{ grant = { "commands" }, source = [[
      function activate() qtui.command("x", "help\27[8m hidden") end
    ]] }
    assert.same({ x = "help^[[8m hidden" }, p:commands())
  end)
end)

describe("manifest commands", function()
  local DECLARED = [[
    [commands.retry]
    help = "requeue the dead job under the cursor"
    key = "Ctrl-R"
    view = "dead"
    [commands.refresh]
    help = "read again"
  ]]

  it("are registered when the plugin starts, without calling qtui.command", function()
    local p = qtest.load{ grant = { "commands" }, manifest = DECLARED, source = [[
      function on_event(e)
        if e.type == "command" then qtui.render({e.name .. " on " .. (e.row and e.row.job_id or "nothing")}) end
      end
    ]] }
    assert.same({ retry = "requeue the dead job under the cursor", refresh = "read again" }, p:commands())
    p:command("retry", "", { screen = "dead", queue = "email", state = "dead", job_id = "7" })
    assert.same({ "retry on 7" }, p:text())
  end)

  it("are not registered while the commands capability is denied", function()
    local p = qtest.load{ deny = { "commands" }, manifest = DECLARED, source = "" }
    assert.same({}, p:commands())
  end)
end)
