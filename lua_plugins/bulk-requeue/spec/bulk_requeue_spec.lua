-- bulk-requeue, run with `qtui plugin test lua_plugins/bulk-requeue`.

local DEAD = {
  { queue = "email", state = "dead", payload = { tenant = "acme", n = 1 }, error = "SMTP timeout" },
  { queue = "email", state = "dead", payload = { tenant = "acme", n = 2 }, error = "mailbox full" },
  { queue = "email", state = "dead", payload = { tenant = "globex", n = 3 }, error = "smtp timeout" },
  { queue = "sms", state = "dead", payload = { tenant = "acme", n = 4 }, error = "timeout" },
  { queue = "email", state = "ready", payload = { tenant = "acme", n = 5 } },
}

local function payload_numbers(jobs)
  local numbers = {}
  for _, job in ipairs(jobs) do
    numbers[#numbers + 1] = tonumber(job.payload:match('"n":(%d+)'))
  end
  table.sort(numbers)
  return numbers
end

local function shows(p, needle)
  for _, line in ipairs(p:text()) do
    if line:find(needle, 1, true) then
      return true
    end
  end
  return false
end

describe("bulk-requeue", function()
  it("registers its commands", function()
    local p = qtest.load{ jobs = DEAD }
    local commands = p:commands()
    for _, name in ipairs({ "filter", "preview", "run", "cancel" }) do
      assert.is_string(commands[name])
    end
  end)

  it("requeues exactly the previewed jobs once the operator confirms", function()
    local p = qtest.load{ jobs = DEAD, confirm = true }
    p:command("filter", "queue=email error=timeout tenant=acme to=retry")
    assert.is_true(shows(p, "1 dead job matches (2 candidates read, none left)"))
    p:command("run")
    assert.same({ "requeue 1 dead job on email to retry: 1" }, p:confirmations())
    assert.same({ 1 }, payload_numbers(p:jobs("retry", "ready")))
    assert.same({ 2, 3, 4 }, payload_numbers(p:jobs(nil, "dead")))
    assert.is_true(shows(p, "requeued 1 of 1 previewed job to retry"))
  end)

  it("moves nothing when the operator declines", function()
    local p = qtest.load{ jobs = DEAD, confirm = false }
    p:command("filter", "tenant=acme")
    p:command("run")
    assert.is_true(shows(p, "requeue failed, nothing moved: the operator declined"))
    assert.same({ 1, 2, 3, 4 }, payload_numbers(p:jobs(nil, "dead")))
  end)

  it("moves nothing when nobody is there to confirm", function()
    local p = qtest.load{ jobs = DEAD }
    p:command("filter", "queue=sms")
    p:command("run")
    assert.is_true(shows(p, "requeue failed, nothing moved: refused: destructive actions need an operator"))
    assert.same({ 1, 2, 3, 4 }, payload_numbers(p:jobs(nil, "dead")))
  end)

  it("runs without asking when the operator chose not to be asked", function()
    local p = qtest.load{ jobs = DEAD, confirm = true, no_confirm = { "jobs.requeue" } }
    p:send{ type = "key", key = "p" }
    assert.is_true(shows(p, "4 dead jobs match"))
    p:send{ type = "key", key = "r" }
    assert.same({}, p:confirmations())
    assert.same({ 1, 2, 3, 5 }, payload_numbers(p:jobs("email", "ready")))
    assert.same({ 4 }, payload_numbers(p:jobs("sms", "ready")))
  end)

  it("explains a filter it cannot read", function()
    local p = qtest.load{ jobs = DEAD }
    p:command("filter", "queue=email when=yesterday")
    assert.is_true(shows(p, "filter: unknown key 'when' (use queue=, error=, tenant= or to=)"))
    assert.equals(0, p:errors())
  end)
end)
