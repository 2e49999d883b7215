-- Shared pieces of the contract specs (require("helpers") from a spec in this folder).
local helpers = {}

-- A plugin module (files = {["dump.lua"] = helpers.dump}) flattening a value into sorted
-- "path=type:value" lines, numbers typed as integer or float.
helpers.dump = [[
local dump = {}

local function walk(prefix, value, out)
  if type(value) ~= "table" then
    local kind = type(value) == "number" and math.type(value) or type(value)
    out[#out + 1] = prefix .. "=" .. kind .. ":" .. tostring(value)
    return
  end
  local keys = {}
  for key in pairs(value) do keys[#keys + 1] = key end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  if #keys == 0 then out[#out + 1] = prefix .. "=table:empty" end
  for _, key in ipairs(keys) do
    walk(prefix == "" and tostring(key) or prefix .. "." .. tostring(key), value[key], out)
  end
end

function dump.lines(value)
  local out = {}
  walk("", value, out)
  return out
end

return dump
]]

-- Options for qtest.load of a plugin that subscribes to `types` (none: receives only what
-- needs no subscription) and shows the latest event it got, flattened by helpers.dump.
function helpers.recorder(types, options)
  local quoted = {}
  for i, name in ipairs(types) do quoted[i] = string.format("%q", name) end
  options = options or {}
  options.source = 'local dump = require("dump")\n'
    .. "function activate() "
    .. (#quoted > 0 and "qtui.subscribe(" .. table.concat(quoted, ", ") .. ")" or "")
    .. " end\n"
    .. "function on_event(e) qtui.render(dump.lines(e)) end\n"
    .. (options.source or "")
  options.files = options.files or {}
  options.files["dump.lua"] = helpers.dump
  return options
end

-- The panel of a recorder (or anything drawn with helpers.dump) as path -> "type:value".
function helpers.fields(p)
  local fields = {}
  for _, line in ipairs(p:text()) do
    local path, value = line:match("^(.-)=(.*)$")
    if path then fields[path] = value end
  end
  return fields
end

-- A plugin whose activate runs `body` inside pcall and shows: ok, the error (or the result).
function helpers.attempt(body, options)
  options = options or {}
  options.source = "function activate()\n"
    .. "  local ok, result = pcall(function()\n" .. body .. "\n  end)\n"
    .. "  qtui.render({tostring(ok), tostring(result)})\n"
    .. "end\n"
  return options
end

-- The lines a plugin renders from `body`, a chunk returning values (nil included), each shown
-- with tostring.
function helpers.shown(body, options)
  options = options or {}
  options.source = "local shown_pack, shown_tostring = table.pack, tostring\n"
    .. "function activate()\n"
    .. "  local values = shown_pack((function()\n" .. body .. "\n  end)())\n"
    .. "  local lines = {}\n"
    .. "  for i = 1, values.n do lines[i] = shown_tostring(values[i]) end\n"
    .. "  qtui.render(lines)\n"
    .. "end\n"
  return qtest.load(options):text()
end

return helpers
