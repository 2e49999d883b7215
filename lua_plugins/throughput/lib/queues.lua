-- Which queues a plugin watches, from a setting such as "email, sms, billing-*".
--
-- This module is vendored, byte for byte, into each sample plugin that uses it (a plugin can
-- only require its own files); tests/sample_plugins checks that the copies stay identical.

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
