-- throughput, run with `qtui plugin test lua_plugins/throughput`.

local COMPLETED = {
  { queue = "email", state = "completed", payload = { n = 1 } },
  { queue = "email", state = "completed", payload = { n = 2 } },
  { queue = "email", state = "completed", payload = { n = 3 } },
  { queue = "sms", state = "dead", payload = { n = 4 }, error = "no credit" },
}

local function line_of(p, queue)
  for _, line in ipairs(p:text()) do
    if line:sub(1, #queue + 1) == queue .. " " then
      return line
    end
  end
  return nil
end

describe("throughput", function()
  it("charts each queue's completions per minute", function()
    local p = qtest.load{ jobs = COMPLETED, settings = { minutes = 10 } }
    p:send("stats")
    assert.matches("^email +done +█ +3/m +peak 3$", line_of(p, "email"))
    assert.matches("^sms +done +▁ +0/m +peak 0$", line_of(p, "sms"))
  end)

  it("shows a fail line under a queue that had failed attempts", function()
    local p = qtest.load{ jobs = COMPLETED }
    p:send("stats")
    local text = table.concat(p:text(), "\n")
    assert.matches("\nsms [^\n]*\n +fail +█ +1/m", text)
  end)

  it("keeps its charts through a reload", function()
    local p = qtest.load{ jobs = COMPLETED, settings = { minutes = 10 } }
    p:send("stats")
    p:reload{}
    assert.matches("3/m", line_of(p, "email"))
  end)

  it("charts without storage and says history is not kept", function()
    local p = qtest.load{ jobs = COMPLETED, deny = { "storage" } }
    p:send("stats")
    assert.matches("3/m", line_of(p, "email"))
    assert.matches("history not kept across restarts", table.concat(p:text(), " "))
    assert.equals(0, p:errors())
  end)

  it("charts only the chosen queues", function()
    local p = qtest.load{ jobs = COMPLETED, settings = { queues = "sms" } }
    p:send("stats")
    assert.is_nil(line_of(p, "email"))
    assert.is_string(line_of(p, "sms"))
  end)
end)
