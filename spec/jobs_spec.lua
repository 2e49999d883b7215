-- Contract: the qtui.jobs requests. Each returns a request id at once; the result arrives
-- later as an "action" event with that id. Destructive requests (requeue, purge) are
-- confirmed by the operator unless they chose not to be asked.
local helpers = require("helpers")

local DEAD = {
  { queue = "email", state = "dead", payload = { to = "a@example.com" }, error = "smtp down" },
  { queue = "email", state = "dead", payload = { to = "b@example.com" }, error = "mailbox full" },
  { queue = "email", state = "dead", payload = { to = "c@example.com" }, error = "smtp down" },
  { queue = "sms", state = "dead", payload = { to = "+100" }, error = "no credit" },
  { queue = "email", state = "ready", payload = { to = "d@example.com" } },
}

-- Options for a plugin that makes request `call` when it starts and shows the action event
-- (flattened by helpers.dump) with the id the call returned.
local function request(call, options)
  options.files = { ["dump.lua"] = helpers.dump }
  options.source = [[
    local dump = require("dump")
    local id
    function activate() id = ]] .. call .. [[ end
    function on_event(e)
      if e.type == "action" then
        local lines = dump.lines(e)
        lines[#lines + 1] = "returned=" .. tostring(id)
        qtui.render(lines)
      end
    end
  ]]
  options.jobs = options.jobs or DEAD
  return options
end

local function payloads(jobs)
  local list = {}
  for i, job in ipairs(jobs) do list[i] = job.payload end
  return list
end

describe("qtui.jobs.peek", function()
  it("gets a page of jobs in one state, oldest first, with their fields", function()
    local p = qtest.load(request([[qtui.jobs.peek{queue = "email", state = "dead"}]], { grant = { "jobs.peek" } }))
    local f = helpers.fields(p)
    assert.equals("string:peek", f.action)
    assert.equals("boolean:true", f.ok)
    assert.equals("integer:" .. f.id:match("%d+"), "integer:" .. f.returned:match("%d+"))
    assert.equals('string:{"to":"a@example.com"}', f["result.jobs.1.payload"])
    assert.equals('string:{"to":"b@example.com"}', f["result.jobs.2.payload"])
    assert.equals('string:{"to":"c@example.com"}', f["result.jobs.3.payload"])
    assert.is_nil(f["result.jobs.4.payload"])
    assert.equals("string:email", f["result.jobs.1.queue"])
    assert.equals("string:dead", f["result.jobs.1.state"])
    assert.equals("string:smtp down", f["result.jobs.1.last_error"])
    assert.equals("integer:1", f["result.jobs.1.attempts"])
    assert.matches("^string:%d+$", f["result.jobs.1.id"])
    assert.matches("^float:", f["result.jobs.1.created_at"])
    assert.is_nil(f["result.next_cursor"])
  end)

  it("pages with limit and cursor", function()
    local p = qtest.load{ grant = { "jobs.peek" }, jobs = DEAD, source = [[
      local seen = {}
      function activate() qtui.jobs.peek{queue = "email", state = "dead", limit = 2} end
      function on_event(e)
        for _, job in ipairs(e.result.jobs) do seen[#seen + 1] = job.payload end
        if e.result.next_cursor then
          qtui.jobs.peek{queue = "email", state = "dead", limit = 2, cursor = e.result.next_cursor}
        else
          qtui.render(seen)
        end
      end
    ]] }
    assert.same({ '{"to":"a@example.com"}', '{"to":"b@example.com"}', '{"to":"c@example.com"}' }, p:text())
  end)

  it("filters by text in the payload or error, across every queue with 'all', ready by default", function()
    local p = qtest.load(request([[qtui.jobs.peek{queue = "all", state = "dead", text = "SMTP"}]],
                                 { grant = { "jobs.peek" } }))
    local f = helpers.fields(p)
    assert.equals('string:{"to":"a@example.com"}', f["result.jobs.1.payload"])
    assert.equals('string:{"to":"c@example.com"}', f["result.jobs.2.payload"])
    assert.is_nil(f["result.jobs.3.payload"])
    local q = qtest.load(request([[qtui.jobs.peek{}]], { grant = { "jobs.peek" } }))
    assert.equals('string:{"to":"d@example.com"}', helpers.fields(q)["result.jobs.1.payload"])
    assert.is_nil(helpers.fields(q)["result.jobs.2.payload"])
  end)

  it("reports an unknown queue in the action event", function()
    local p = qtest.load(request([[qtui.jobs.peek{queue = "nope", state = "dead"}]], { grant = { "jobs.peek" } }))
    local f = helpers.fields(p)
    assert.equals("boolean:false", f.ok)
    assert.matches("^string:.*nope", f.error)
  end)

  it("refuses malformed queries before making a request", function()
    local cases = {
      { [[qtui.jobs.peek{queue = "email", colour = "red"}]], "jobs.peek: unknown field 'colour'" },
      { [[qtui.jobs.peek{queue = "email", state = "lost"}]],
        "unknown job state 'lost' (choose from ready, scheduled, processing, completed, dead)" },
      { [[qtui.jobs.peek{queue = "email", limit = 501}]], "jobs.peek: limit must be a whole number from 1 to 500" },
      { [[qtui.jobs.peek{queue = "email", limit = 0}]], "jobs.peek: limit must be a whole number from 1 to 500" },
      { [[qtui.jobs.peek{queue = "bad queue!"}]], "invalid queue name 'bad queue!'" },
      { [[qtui.jobs.peek("email")]], "jobs.peek takes a table {queue=, state=, text=, cursor=, limit=}" },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt(case[1], { grant = { "jobs.peek" } }))
      assert.equals("false", p:text()[1])
      assert.matches(case[2], p:text()[2], 1, true)
    end
  end)
end)

describe("qtui.jobs.find", function()
  it("gets one job by id", function()
    local p = qtest.load(request([[qtui.jobs.find("2")]], { grant = { "jobs.peek" } }))
    local f = helpers.fields(p)
    assert.equals("string:find", f.action)
    assert.equals("string:2", f["result.id"])
    assert.equals('string:{"to":"b@example.com"}', f["result.payload"])
  end)

  it("gives no result for an unknown id", function()
    local p = qtest.load(request([[qtui.jobs.find("999")]], { grant = { "jobs.peek" } }))
    local f = helpers.fields(p)
    assert.equals("boolean:true", f.ok)
    assert.is_nil(f.result)
  end)
end)

describe("qtui.jobs.enqueue", function()
  it("adds a job with the payload sent as JSON and gives it back", function()
    local p = qtest.load(request([[qtui.jobs.enqueue("reports", {day = "monday"})]],
                                 { grant = { "jobs.enqueue" } }))
    local f = helpers.fields(p)
    assert.equals("string:enqueue", f.action)
    assert.equals("string:ready", f["result.state"])
    assert.equals("string:reports", f["result.queue"])
    local jobs = p:jobs("reports", "ready")
    assert.equals(1, #jobs)
    assert.matches('^{"day": ?"monday"}$', jobs[1].payload)
    assert.equals(f["result.id"], "string:" .. jobs[1].id)
  end)

  it("refuses a payload that is not plain data", function()
    local p = qtest.load(helpers.attempt([[qtui.jobs.enqueue("reports", {ratio = 0/0})]], { grant = { "jobs.enqueue" } }))
    assert.same({ "false", "init.lua:3: qtui.jobs.enqueue: jobs.enqueue: the payload must be plain data" }, p:text())
    assert.has_error(function() p:jobs("reports", "ready") end, "jobs: no queue named 'reports'")
  end)
end)

describe("qtui.jobs.requeue", function()
  it("moves the selected dead jobs back once the operator confirms", function()
    local p = qtest.load(request([[qtui.jobs.requeue{ids = {"1", "3"}}]],
                                 { grant = { "jobs.requeue" }, confirm = true }))
    local f = helpers.fields(p)
    assert.equals("boolean:true", f.ok)
    assert.equals("integer:2", f["result.count"])
    assert.same({ "requeue 2 dead jobs on email to their own queues: 1, 3" }, p:confirmations())
    assert.same({ '{"to":"b@example.com"}' }, payloads(p:jobs("email", "dead")))
    assert.same({ '{"to":"a@example.com"}', '{"to":"c@example.com"}', '{"to":"d@example.com"}' },
                payloads(p:jobs("email", "ready")))
    local entries = p:audit()
    assert.same({ capability = "jobs.requeue", outcome = "confirmed", jobs = 2,
                  detail = "requeue 2 dead jobs on email to their own queues: 1, 3" }, entries[#entries - 1])
    assert.same({ capability = "jobs.requeue", outcome = "done", jobs = 2, detail = "" }, entries[#entries])
  end)

  it("asks about the exact jobs: ids that are not dead are left out of the count", function()
    local p = qtest.load(request([[qtui.jobs.requeue{ids = {"1", "5", "404"}}]],
                                 { grant = { "jobs.requeue" }, confirm = true }))
    assert.equals("integer:1", helpers.fields(p)["result.count"])
    assert.same({ "requeue 1 dead job on email to their own queues: 1" }, p:confirmations())
  end)

  it("moves every dead job of a queue matching a text, to another queue", function()
    local p = qtest.load(request([[qtui.jobs.requeue{queue = "email", text = "smtp", to = "email-retry"}]],
                                 { grant = { "jobs.requeue" }, confirm = true }))
    assert.equals("integer:2", helpers.fields(p)["result.count"])
    assert.same({ "requeue 2 dead jobs matching 'smtp' on email to email-retry: 1, 3" }, p:confirmations())
    assert.same({ '{"to":"a@example.com"}', '{"to":"c@example.com"}' }, payloads(p:jobs("email-retry", "ready")))
  end)

  it("touches nothing when the operator declines", function()
    local p = qtest.load(request([[qtui.jobs.requeue{queue = "email"}]], { grant = { "jobs.requeue" }, confirm = false }))
    local f = helpers.fields(p)
    assert.equals("boolean:false", f.ok)
    assert.equals("string:the operator declined", f.error)
    assert.equals(3, #p:jobs("email", "dead"))
    assert.same({ capability = "jobs.requeue", outcome = "declined", jobs = 3,
                  detail = "requeue 3 dead jobs on email to their own queues: 1, 2, 3" }, p:audit()[#p:audit()])
  end)

  it("is refused when there is no operator to confirm", function()
    local p = qtest.load(request([[qtui.jobs.requeue{queue = "email"}]], { grant = { "jobs.requeue" } }))
    assert.equals("string:refused: destructive actions need an operator to confirm them", helpers.fields(p).error)
    assert.equals(3, #p:jobs("email", "dead"))
    assert.equals("no_operator", p:audit()[#p:audit()].reason)
  end)

  it("goes ahead without asking when the operator chose not to be asked", function()
    local p = qtest.load(request([[qtui.jobs.requeue{queue = "sms"}]],
                                 { grant = { "jobs.requeue" }, no_confirm = { "jobs.requeue" }, confirm = false }))
    assert.equals("integer:1", helpers.fields(p)["result.count"])
    assert.same({}, p:confirmations())
    assert.same({ { capability = "jobs.requeue", outcome = "requested", detail = "qtui.jobs.requeue" },
                  { capability = "jobs.requeue", outcome = "done", jobs = 1, detail = "" } }, p:audit())
  end)

  it("refuses malformed selections before making a request", function()
    local cases = {
      { [[qtui.jobs.requeue{ids = {"1"}, queue = "email"}]], "jobs.requeue: give ids, or queue/text, not both" },
      { [[qtui.jobs.requeue{ids = {1, 2}}]], "jobs.requeue: ids must be a list of at most 10000 job id strings" },
      { [[qtui.jobs.requeue{everything = true}]], "jobs.requeue takes {ids=} or {queue=, text=}, and optionally to=" },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt(case[1], { grant = { "jobs.requeue" }, confirm = true }))
      assert.equals("false", p:text()[1])
      assert.matches(case[2], p:text()[2], 1, true)
      assert.same({}, p:confirmations())
      local refused = p:audit()[2]
      assert.equals("refused", refused.outcome)
      assert.equals("bad_arguments", refused.reason)
      assert.matches(case[2], refused.detail, 1, true)
    end
  end)
end)

describe("qtui.jobs.purge", function()
  it("deletes every job in a state of a queue once the operator confirms", function()
    local p = qtest.load(request([[qtui.jobs.purge("email", "dead")]], { grant = { "jobs.purge" }, confirm = true }))
    assert.equals("integer:3", helpers.fields(p)["result.count"])
    assert.same({ "delete 3 dead jobs on email: 1, 2, 3" }, p:confirmations())
    assert.same({}, p:jobs("email", "dead"))
    assert.equals(1, #p:jobs("sms", "dead"))
    assert.equals(1, #p:jobs("email", "ready"))
  end)

  it("deletes in every queue with 'all'", function()
    local p = qtest.load(request([[qtui.jobs.purge("all", "dead")]], { grant = { "jobs.purge" }, confirm = true }))
    assert.equals("integer:4", helpers.fields(p)["result.count"])
    assert.same({ "delete 4 dead jobs on every queue: 1, 2, 3, 4" }, p:confirmations())
    assert.same({}, p:jobs(nil, "dead"))
  end)

  it("touches nothing when the operator declines", function()
    local p = qtest.load(request([[qtui.jobs.purge("email", "dead")]], { grant = { "jobs.purge" }, confirm = false }))
    assert.equals("string:the operator declined", helpers.fields(p).error)
    assert.equals(3, #p:jobs("email", "dead"))
  end)

  it("refuses an unknown state before making a request", function()
    local p = qtest.load(helpers.attempt([[qtui.jobs.purge("email", "old")]], { grant = { "jobs.purge" }, confirm = true }))
    assert.equals("false", p:text()[1])
    assert.matches("unknown job state 'old'", p:text()[2], 1, true)
    assert.same({}, p:confirmations())
  end)
end)

describe("qtui.jobs.oldest", function()
  it("gets the oldest job in a state of each queue, by queue name", function()
    local p = qtest.load(request([[qtui.jobs.oldest{state = "dead"}]], { grant = { "jobs.peek" } }))
    local f = helpers.fields(p)
    assert.equals("string:oldest", f.action)
    assert.equals("boolean:true", f.ok)
    assert.equals('string:{"to":"a@example.com"}', f["result.jobs.1.payload"])
    assert.equals("string:email", f["result.jobs.1.queue"])
    assert.equals('string:{"to":"+100"}', f["result.jobs.2.payload"])
    assert.is_nil(f["result.jobs.3.payload"])
  end)

  it("asks about one queue, ready jobs by default; a queue with none gives no job", function()
    local p = qtest.load(request([[qtui.jobs.oldest{queue = "email"}]], { grant = { "jobs.peek" } }))
    assert.equals('string:{"to":"d@example.com"}', helpers.fields(p)["result.jobs.1.payload"])
    local q = qtest.load(request([[qtui.jobs.oldest{queue = "sms"}]], { grant = { "jobs.peek" } }))
    assert.equals("table:empty", helpers.fields(q)["result.jobs"])
  end)

  it("refuses malformed queries before making a request", function()
    local p = qtest.load(helpers.attempt([[qtui.jobs.oldest{queue = "email", limit = 3}]], { grant = { "jobs.peek" } }))
    assert.same({ "false", "init.lua:3: qtui.jobs.oldest: jobs.oldest: unknown field 'limit'" }, p:text())
  end)
end)

describe("qtui.jobs.count_by", function()
  local TENANTS = {
    { queue = "email", state = "ready", payload = { tenant = "acme" } },
    { queue = "email", state = "ready", payload = { tenant = "globex" } },
    { queue = "email", state = "ready", payload = { tenant = "acme", n = 2 } },
    { queue = "email", state = "ready", payload = { meta = { tenant = 7 } } },
    { queue = "email", state = "ready", payload = { tenant = { nested = true } } },
    { queue = "sms", state = "ready", payload = { tenant = "acme" } },
  }

  it("counts jobs by a payload field, the most first, with each group's oldest job", function()
    local p = qtest.load(request([[qtui.jobs.count_by{queue = "email", field = "tenant"}]],
                                 { grant = { "jobs.peek" }, jobs = TENANTS }))
    local f = helpers.fields(p)
    assert.equals("string:count_by", f.action)
    assert.equals("string:acme", f["result.groups.1.value"])
    assert.equals("integer:2", f["result.groups.1.count"])
    assert.matches("^float:", f["result.groups.1.oldest"])
    assert.is_nil(f["result.groups.2.value"]) -- no tenant, or not a string, number or boolean
    assert.equals("integer:2", f["result.groups.2.count"])
    assert.equals("string:globex", f["result.groups.3.value"])
    assert.equals("integer:5", f["result.scanned"])
    assert.equals("integer:0", f["result.unreadable"])
    assert.equals("boolean:true", f["result.complete"])
  end)

  it("reads nested fields, across every queue by default, and says when it looked at only the oldest", function()
    local p = qtest.load(request([[qtui.jobs.count_by{field = "meta.tenant", limit = 4}]],
                                 { grant = { "jobs.peek" }, jobs = TENANTS }))
    local f = helpers.fields(p)
    assert.equals("integer:4", f["result.scanned"])
    assert.equals("boolean:false", f["result.complete"])
    assert.equals("string:7", f["result.groups.2.value"])
  end)

  it("counts the jobs of each group created before a time", function()
    local p = qtest.load(request([[qtui.jobs.count_by{queue = "sms", field = "tenant", older_than = os.time() + 60}]],
                                 { grant = { "jobs.peek" }, jobs = TENANTS }))
    assert.equals("integer:1", helpers.fields(p)["result.groups.1.older"])
  end)

  it("refuses malformed queries before making a request", function()
    local cases = {
      { [[qtui.jobs.count_by{queue = "email"}]], "jobs.count_by: field must be a string, e.g. 'tenant'" },
      { [[qtui.jobs.count_by{field = "a..b"}]], "invalid payload field 'a..b'" },
      { [[qtui.jobs.count_by{field = "tenant", limit = 50001}]],
        "jobs.count_by: limit must be a whole number from 1 to 50000" },
      { [[qtui.jobs.count_by{field = "tenant", older_than = "yesterday"}]],
        "jobs.count_by: older_than must be a Unix time" },
    }
    for _, case in ipairs(cases) do
      local p = qtest.load(helpers.attempt(case[1], { grant = { "jobs.peek" } }))
      assert.equals("false", p:text()[1])
      assert.matches(case[2], p:text()[2], 1, true)
    end
  end)
end)
