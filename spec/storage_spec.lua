-- Contract: qtui.storage.get, qtui.storage.set and qtui.storage.keys.
local helpers = require("helpers")

describe("qtui.storage.set", function()
  it("stores plain data that survives a restart of the plugin", function()
    local p = qtest.load{ grant = { "storage" }, source = [[
      function activate()
        local seen = qtui.storage.get("starts") or 0
        qtui.storage.set("starts", seen + 1)
        qtui.storage.set("last", {queues = {"email", "sms"}, ok = true})
        qtui.render({"starts " .. (seen + 1)})
      end
    ]] }
    assert.same({ "starts 1" }, p:text())
    p:reload{}
    p:reload{}
    assert.same({ "starts 3" }, p:text())
  end)

  it("deletes a key when given nil", function()
    local p = qtest.load(helpers.attempt([[
      qtui.storage.set("a", 1)
      qtui.storage.set("a", nil)
      return qtui.storage.get("a") == nil and #qtui.storage.keys()
    ]], { grant = { "storage" } }))
    assert.same({ "true", "0" }, p:text())
  end)

  it("refuses to grow the storage past 64 KiB and keeps what was stored", function()
    local p = qtest.load(helpers.attempt([[
      qtui.storage.set("small", "kept")
      local ok, err = pcall(qtui.storage.set, "big", string.rep("x", 70000))
      local big = qtui.storage.get("big")
      return tostring(ok) .. " | " .. err .. " | " .. qtui.storage.get("small") .. " | " .. tostring(big)
    ]], { grant = { "storage" } }))
    assert.equals("true", p:text()[1])
    assert.matches("^false | qtui.storage.set: storage.set: storage full: %d+ bytes would exceed the 65536%-byte cap | kept | nil$",
                   p:text()[2])
  end)

  it("refuses what is not plain data", function()
    local p = qtest.load(helpers.attempt([[qtui.storage.set("f", print)]], { grant = { "storage" } }))
    assert.same({ "false", "init.lua:3: qtui.storage.set: bad argument #2: a Lua function or coroutine "
                  .. "cannot be passed to the host" }, p:text())
  end)
end)

describe("qtui.storage.get", function()
  it("gives back what was stored, or nil", function()
    local p = qtest.load(helpers.attempt([[
      qtui.storage.set("config", {limit = 5, queues = {"a", "b"}})
      local config, missing = qtui.storage.get("config"), qtui.storage.get("missing")
      return config.limit .. " " .. table.concat(config.queues, ",") .. " " .. tostring(missing)
    ]], { grant = { "storage" } }))
    assert.same({ "true", "5 a,b nil" }, p:text())
  end)

  it("keeps each plugin's storage to itself", function()
    local writer = qtest.load{ name = "writer", grant = { "storage" },
                               source = [[function activate() qtui.storage.set("secret", "w") end]] }
    local reader = writer:add(helpers.attempt([[local secret = qtui.storage.get("secret"); return tostring(secret)]],
                                              { name = "reader", grant = { "storage" } }))
    assert.same({ "true", "nil" }, reader:text())
  end)
end)

describe("qtui.storage.keys", function()
  it("lists every key, sorted", function()
    local p = qtest.load(helpers.attempt([[
      for _, key in ipairs({"zeta", "alpha", "mid"}) do qtui.storage.set(key, true) end
      return table.concat(qtui.storage.keys(), " ")
    ]], { grant = { "storage" } }))
    assert.same({ "true", "alpha mid zeta" }, p:text())
  end)
end)
