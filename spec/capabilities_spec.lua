-- Contract: a capability the operator has not granted is refused with an error the plugin can
-- catch (it keeps running), and every use is written to the audit log: the request, then what
-- became of it (done, or refused with the reason).

-- capability, a call needing it, the function named in the error, the audit detail
local CASES = {
  { "stats.read", [[qtui.subscribe("stats")]], "qtui.subscribe", "subscribe to stats" },
  { "selection.read", [[qtui.subscribe("key")]], "qtui.subscribe", "subscribe to key" },
  { "timers", [[qtui.every("poll", 1)]], "qtui.every", "qtui.every" },
  { "notify", [[qtui.notify("hello")]], "qtui.notify", "qtui.notify" },
  { "commands", [[qtui.command("go", "go somewhere")]], "qtui.command", "qtui.command" },
  { "storage", [[qtui.storage.set("k", 1)]], "qtui.storage.set", "qtui.storage.set" },
  { "bus.publish", [[qtui.publish("alerts.disk", 1)]], "qtui.publish", "publish to alerts.disk" },
  { "bus.subscribe", [[qtui.listen("alerts.")]], "qtui.listen", "listen to alerts." },
  { "jobs.peek", [[qtui.jobs.peek{queue = "email", state = "dead"}]], "qtui.jobs.peek", "qtui.jobs.peek" },
  { "jobs.enqueue", [[qtui.jobs.enqueue("email", {n = 1})]], "qtui.jobs.enqueue", "qtui.jobs.enqueue" },
  { "jobs.requeue", [[qtui.jobs.requeue{queue = "email"}]], "qtui.jobs.requeue", "qtui.jobs.requeue" },
  { "jobs.purge", [[qtui.jobs.purge("email", "dead")]], "qtui.jobs.purge", "qtui.jobs.purge" },
  { "keys.read", [[qtui.subscribe("console_key")]], "qtui.subscribe", "subscribe to console_key" },
}

-- A plugin that tries `call` when it starts and shows whether it worked and the error.
local function trying(call, options)
  options.source = "function activate()\n  local ok, err = pcall(function() " .. call .. " end)\n"
    .. "  qtui.render({tostring(ok), tostring(err)})\nend\n"
  options.jobs = { { queue = "email", state = "dead", error = "smtp down" } }
  return options
end

for _, case in ipairs(CASES) do
  local capability, call, fn, detail = case[1], case[2], case[3], case[4]
  -- the error names the function once, and the detail when it says more (what was subscribed to)
  local subject = detail == fn and "" or detail .. " "
  local refused = "init.lua:2: " .. fn .. ": " .. subject .. "refused: capability " .. capability .. " is "

  describe("capability " .. capability, function()
    it("is refused when the operator denied it", function()
      local p = qtest.load(trying(call, { deny = { capability } }))
      local ok, err = table.unpack(p:text())
      assert.equals("false", ok)
      assert.matches("^" .. refused:gsub("%p", "%%%0") .. "denied %(denied by you on %d%d%d%d%-%d%d%-%d%d%)$", err)
      assert.equals("running", p:state())
      local request, outcome = table.unpack(p:audit())
      assert.same({ capability = capability, outcome = "requested", detail = detail }, request)
      assert.equals("refused", outcome.outcome)
      assert.equals("denied", outcome.reason)
      assert.matches("^denied by you on ", outcome.detail)
    end)

    it("is refused when the manifest does not request it", function()
      local p = qtest.load(trying(call, {}))
      assert.same({ "false", refused .. "not_requested (spec-plugin's manifest does not request "
                    .. capability .. ")" }, p:text())
      assert.same({ { capability = capability, outcome = "requested", detail = detail },
                    { capability = capability, outcome = "refused", reason = "not_requested",
                      detail = "spec-plugin's manifest does not request " .. capability } }, p:audit())
    end)

    it("is refused when the site policy forbids it, even if granted", function()
      local p = qtest.load(trying(call, { grant = { capability }, forbid = { capability } }))
      assert.same({ "false", refused .. "forbidden (forbidden by the site policy)" }, p:text())
      local entries = p:audit()
      assert.same({ capability = capability, outcome = "requested", detail = detail }, entries[#entries - 1])
      assert.same({ capability = capability, outcome = "refused", reason = "forbidden",
                    detail = "forbidden by the site policy" }, entries[#entries])
    end)

    it("is used and audited, request then outcome, when granted", function()
      local p = qtest.load(trying(call, { grant = { capability }, confirm = true }))
      assert.same({ "true", "nil" }, p:text())
      local outcomes = {}
      for _, entry in ipairs(p:audit()) do
        if entry.capability == capability then outcomes[#outcomes + 1] = entry.outcome end
      end
      assert.equals("requested", outcomes[1])
      assert.equals("done", outcomes[#outcomes])
    end)
  end)
end

describe("permission decisions", function()
  it("keep a plugin with an undecided capability waiting, running none of its code", function()
    local p = qtest.load{ grant = { "notify" }, undecided = { "jobs.purge", "timers" }, source = [[
      print("loaded")
      function activate() qtui.render({"running"}) end
    ]] }
    assert.same({ "waiting", "needs a decision on: jobs.purge, timers" }, { p:state() })
    assert.same({}, p:text())
    assert.same({}, p:log())
  end)
end)
