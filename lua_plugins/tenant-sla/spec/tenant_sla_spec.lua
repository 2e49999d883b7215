-- tenant-sla, run with `qtui plugin test lua_plugins/tenant-sla`.

local function ready(queue, tenant)
  return { queue = queue, state = "ready", payload = tenant and { tenant = tenant } or { n = 1 } }
end

-- The tenant table's rows as {name, ready, ..., status}.
local function tenants(p)
  local rows, name_columns = {}, nil
  for _, line in ipairs(p:text()) do
    if line:find("^TENANT") then
      name_columns = line:find("READY", 1, true) - 3 -- a space between columns, READY right-aligned in 6
    elseif name_columns then
      if line == "" or line:find("^partial") then
        break
      end
      local split = utf8.offset(line, name_columns + 1)
      local cells = { (line:sub(1, split - 1):gsub("%s+$", "")) }
      for cell in line:sub(split):gmatch("%S+") do
        cells[#cells + 1] = cell
      end
      rows[#rows + 1] = cells
    end
  end
  return rows
end

describe("tenant-sla", function()
  it("waits for statistics, then groups the ready jobs by tenant", function()
    local p = qtest.load{ jobs = { ready("email", "acme"), ready("email", "globex"), ready("email", "acme"),
                                   ready("sms", "acme"), ready("email") } }
    assert.same({ "waiting for the first queue statistics…" }, p:text())
    p:send("stats")
    local rows = tenants(p)
    local by_name = {}
    for _, row in ipairs(rows) do
      by_name[row[1]] = row
    end
    assert.equals("3", by_name.acme[2])
    assert.equals("1", by_name.globex[2])
    assert.equals("1", by_name["(no tenant)"][2])
    assert.equals("ok", by_name.acme[#by_name.acme])
    assert.equals(0, p:errors())
  end)

  it("reads the tenant from a nested field and only the watched queues", function()
    local p = qtest.load{
      jobs = {
        { queue = "email", state = "ready", payload = { meta = { tenant = "initech" }, tenant = "no" } },
        { queue = "sms", state = "ready", payload = { meta = { tenant = "acme" } } },
      },
      settings = { tenant_field = "meta.tenant", queues = "email" },
    }
    p:send("stats")
    assert.same({ { "initech", "1", "0s", "-", "-", "ok" } }, tenants(p))
  end)

  it("keeps the queue view and shows the refusal when jobs.peek is denied", function()
    local p = qtest.load{ jobs = { ready("email", "acme") }, deny = { "jobs.peek" } }
    p:send("stats")
    local shown = table.concat(p:text(), "\n")
    assert.matches("per%-tenant view off", shown)
    assert.matches("capability jobs.peek is denied", shown)
    assert.matches("\nemail +1 ", shown)
    assert.equals("running", p:state())
  end)

  it("shows hostile tenant names as inert text", function()
    local p = qtest.load{ jobs = { ready("email", "\27]0;pwned\7" .. string.rep("x", 100)) } }
    p:send("stats")
    local name = tenants(p)[1][1]
    assert.equals("?]0;pwned?" .. string.rep("x", 26) .. "…", name) -- fitted to the name's 37 columns
  end)

  it("reads again after a settings change", function()
    local p = qtest.load{ jobs = { ready("email", "acme") } }
    p:send("stats")
    assert.equals("acme", tenants(p)[1][1])
    p:settings{ tenant_field = "nothing" }
    p:send("stats")
    assert.equals("(no tenant)", tenants(p)[1][1])
  end)
end)
