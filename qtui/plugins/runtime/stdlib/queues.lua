-- qtui.queues, part of qtui's library for plugins: require("qtui.queues").
--
-- Which queues a plugin watches, from a setting such as "email, sms, billing-*".
-- The host's code, not the plugin's: it ships with qtui (a qtui upgrade may change it, as it may
-- change the API), runs in the plugin's own sandbox under the plugin's limits, and the table
-- `require` returns is read-only.

local queues = {}

--- A function telling whether a queue name is watched: `spec` lists names separated by
--- commas, a name ending in * matches every queue starting with the rest, and an empty or
--- missing spec matches every queue. Also returns how many names the spec lists.
function queues.matcher(spec)
  local names, prefixes, count = {}, {}, 0
  for item in (type(spec) == "string" and spec or ""):gmatch("[^,]+") do
    local name = item:match("^%s*(.-)%s*$")
    if name ~= "" then
      count = count + 1
      local prefix = name:match("^(.*)%*$")
      if prefix then
        prefixes[#prefixes + 1] = prefix
      else
        names[name] = true
      end
    end
  end
  return function(queue)
    if count == 0 or names[queue] then
      return true
    end
    for _, prefix in ipairs(prefixes) do
      if queue:sub(1, #prefix) == prefix then
        return true
      end
    end
    return false
  end, count
end

return queues
