-- qtui.json, part of qtui's library for plugins: require("qtui.json").
--
-- The host's code, not the plugin's: it ships with qtui (a qtui upgrade may change it, as it may
-- change the API), runs in the plugin's own sandbox under the plugin's limits, and the table
-- `require` returns is read-only.
--
-- Job payloads are hostile: they may be any text, deeply nested, huge, or JSON of another shape.
--
-- `json.field` reads one field of a payload that is supposed to be a JSON object. It never
-- fails, looks at no more than MAX_BYTES of a payload and does at most MAX_COST work, and a
-- budget shared by the lookups of one call bounds a whole page, so hostile payloads stay inside
-- a plugin's per-call limits. Duplicate keys resolve to the last one, as most JSON decoders
-- (Python, Go, JavaScript) do; when a payload is longer than MAX_BYTES or needs more than
-- MAX_COST, the last value found in the part read counts.
--
-- `json.decode` turns a whole JSON text into Lua values. It refuses nesting deeper than
-- MAX_DEPTH with a message; its work and memory count against the plugin's limits like any
-- other code, so a text too large for them stops the call with the limit's error.

local json = {}

--- Bytes of a payload that are looked at; a field further in is not found.
json.MAX_BYTES = 8192
--- Work allowed per lookup, in units of one bracket or quote skipped (a library call costs
--- CALL_COST units); about 8 Lua instructions a unit.
json.MAX_COST = 5000
local CALL_COST = 10

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                  r = "\r", t = "\t" }
local CLOSER = { ["{"] = "}", ["["] = "]" }
local SPACE = { [32] = true, [9] = true, [10] = true, [13] = true }

-- A lookup's state `st`: `s` the payload prefix; `t` the same with every escape pair blanked,
-- so that each '"' in `t` opens or closes a string; `cost` the work left; `cut` whether `s` is only
-- a prefix of the payload.

-- Charge one library call (about ten times the work of one bracket or quote skipped), or
-- `calls` of them.
local function step(st, calls)
  st.cost = st.cost - CALL_COST * (calls or 1)
  return st.cost >= 0
end

-- The position of the first non-space at or after `i`.
local function space(st, i)
  if not SPACE[st.t:byte(i)] then
    return i
  end
  step(st)
  return select(2, st.t:find("^[ \t\r\n]*", i)) + 1
end

-- The position after the string whose opening quote is at `i`, or nil.
local function string_end(st, i)
  if not step(st) then
    return nil
  end
  local close = st.t:find('"', i + 1, true)
  return close and close + 1
end

-- `raw`, the text between a string's quotes, with its escapes decoded; nil when an escape is
-- not valid or, given a lookup state `st`, when the lookup's work runs out.
local function unescape(raw, st)
  local parts, k = {}, 1
  while true do
    local j = raw:find("\\", k, true)
    if j == nil then
      parts[#parts + 1] = raw:sub(k)
      return table.concat(parts)
    end
    if st and not step(st, 2) then
      return nil
    end
    parts[#parts + 1] = raw:sub(k, j - 1)
    local e = raw:sub(j + 1, j + 1)
    if e == "u" then
      local code = tonumber(raw:sub(j + 2, j + 5):match("^%x%x%x%x$") or "", 16)
      k = j + 6
      if code and code >= 0xD800 and code <= 0xDBFF then
        local low = raw:sub(k, k + 1) == "\\u" and tonumber(raw:sub(k + 2, k + 5):match("^%x%x%x%x$") or "", 16)
        if not low or low < 0xDC00 or low > 0xDFFF then
          return nil
        end
        code, k = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00), k + 6
      elseif code == nil or (code >= 0xDC00 and code <= 0xDFFF) then
        return nil
      end
      parts[#parts + 1] = utf8.char(code)
    elseif ESCAPES[e] then
      parts[#parts + 1] = ESCAPES[e]
      k = j + 2
    else
      return nil
    end
  end
end

-- The text of the string at `i` ending before `after`, escapes decoded; nil if not valid.
local function decode(st, i, after)
  local raw = st.s:sub(i + 1, after - 2)
  step(st)
  if raw:find("[%z\1-\31]") then
    return nil
  end
  if st.t:sub(i + 1, after - 2) == raw then
    return raw -- no escapes
  end
  return unescape(raw, st)
end

-- The position after the number, boolean or null at `i`, or nil.
local function word_end(st, i)
  if not step(st) then
    return nil
  end
  local _, last = st.t:find("^[%w.+-]+", i)
  return last and last + 1
end

-- The position after the value at `i`, or nil when it is malformed or too costly. Containers
-- are skipped in one pass over their brackets and quotes (each '"' in `t` toggles a string).
local function skip(st, i)
  local c = st.t:sub(i, i)
  if c == '"' then
    return string_end(st, i)
  elseif not CLOSER[c] then
    return word_end(st, i)
  end
  if not step(st) then
    return nil
  end
  local expected, in_string, cost = {}, false, st.cost
  for at, b in st.t:gmatch('()([][{}"])', i) do
    cost = cost - 1
    if cost < 0 then
      st.cost = cost
      return nil
    end
    if b == '"' then
      in_string = not in_string
    elseif not in_string then
      if CLOSER[b] then
        expected[#expected + 1] = CLOSER[b]
      elseif b == expected[#expected] then
        expected[#expected] = nil
        if #expected == 0 then
          st.cost = cost
          return at + 1
        end
      else
        st.cost = cost
        return nil
      end
    end
  end
  st.cost = cost
  return nil
end

-- A scalar at `i` as text (strings decoded, numbers as written, booleans as "true" or
-- "false"); nil for null, objects, arrays, malformed values and values cut off.
local function scalar(st, i)
  if st.t:sub(i, i) == '"' then
    local after = string_end(st, i)
    return after and decode(st, i, after)
  end
  local after = word_end(st, i)
  if after == nil or (st.cut and after > #st.t) then
    return nil
  end
  local word = st.t:sub(i, after - 1)
  if word == "true" or word == "false" or word:match("^%-?%d+%.?%d*[eE]?[+-]?%d*$") then
    return word
  end
  return nil
end

-- Where a scan stops early: what was found so far counts only if the text ran out.
local function stopped(st, found)
  if st.cut or st.cost < 0 then
    return found
  end
  return nil
end

-- The value of `keys[depth]`, `keys[depth + 1]`, ... inside the object at `i`, or nil.
local function lookup(st, i, keys, depth)
  if st.t:sub(i, i) ~= "{" then
    return nil
  end
  local found
  local k = space(st, i + 1)
  if st.t:sub(k, k) == "}" then
    return nil
  end
  while true do
    if st.t:sub(k, k) ~= '"' then
      return stopped(st, found)
    end
    local after = string_end(st, k)
    if after == nil then
      return stopped(st, found)
    end
    local key_start = k
    k = space(st, after)
    if st.t:sub(k, k) ~= ":" then
      return stopped(st, found)
    end
    k = space(st, k + 1)
    -- Only keys whose raw length allows a match are decoded (an escape is 2 to 12 bytes).
    local wanted, raw_length = keys[depth], after - key_start - 2
    if raw_length >= #keys[depth] and raw_length <= 6 * #keys[depth] then
      if decode(st, key_start, after) == wanted then
        if depth == #keys then
          found = scalar(st, k)
        else
          found = lookup(st, k, keys, depth + 1)
        end
      end
    end
    local next_k = skip(st, k)
    if next_k == nil then
      return stopped(st, found)
    end
    k = space(st, next_k)
    local separator = st.t:sub(k, k)
    if separator == "}" then
      return found
    elseif separator ~= "," then
      return stopped(st, found)
    end
    k = space(st, k + 1)
  end
end

--- A budget of work shared by the lookups of one plugin call (in the units of MAX_COST), so
--- that a page of hostile payloads costs a bounded amount whatever its size.
function json.budget(cost)
  if type(cost) ~= "number" then
    error("bad argument #1 to 'qtui.json.budget' (number expected, got " .. type(cost) .. ")", 2)
  end
  return { cost = cost }
end

--- The value at dotted `path` (e.g. "tenant" or "meta.tenant") of the JSON object in
--- `payload`, as text, or nil when the payload is not such an object or the field is missing
--- or not a string, number or boolean. The second result is false when the payload could
--- not be read completely (longer than MAX_BYTES, costlier than MAX_COST, or `budget` spent).
function json.field(payload, path, budget)
  if type(payload) ~= "string" or type(path) ~= "string" or path == "" then
    return nil, true
  end
  local keys = {}
  for key in path:gmatch("[^.]+") do
    keys[#keys + 1] = key
  end
  local allowed = json.MAX_COST
  if budget then
    if budget.cost <= 0 then
      return nil, false
    end
    allowed = math.min(allowed, budget.cost)
  end
  local s = payload:sub(1, json.MAX_BYTES)
  local st = { s = s, t = (s:gsub("\\.", "\1\1")), cost = allowed, cut = #payload > json.MAX_BYTES }
  local value
  if step(st, 2) then -- the two copies above
    value = lookup(st, space(st, 1), keys, 1)
  end
  if budget then
    budget.cost = budget.cost - (allowed - math.max(st.cost, 0))
  end
  return value, st.cost >= 0 and not st.cut
end

---------------------------------------------------------------------------------------------
-- json.decode

--- Deepest nesting of arrays and objects `json.decode` accepts (the host passes tables nested
--- this deep, too).
json.MAX_DEPTH = 32

--- What `json.decode` gives for a JSON null inside an array (a nil would end the list there)
--- and for a text that is just null. In an object a null field is left out, as nil.
json.null = setmetatable({}, {
  __tostring = function() return "null" end,
  __newindex = function() error("qtui.json.null is read-only", 2) end,
  __metatable = false,
})

local NULL = json.null
local find, match, sub, byte = string.find, string.match, string.sub, string.byte
local utf8_len, math_type = utf8.len, math.type

-- A decode failure in flight: raised by `fail`, turned into json.decode's message.
local FAILURE = {}

local function fail(at, what)
  error(setmetatable({ at = at, what = what }, FAILURE), 0)
end

-- The position of the first non-space at or after `i` (one space, as json.dumps writes after
-- ',' and ':', costs no pattern search).
local function skip_space(s, i)
  local first, second = byte(s, i, i + 1)
  if not SPACE[first] then
    return i
  elseif not SPACE[second] then
    return i + 1
  end
  local _, last = find(s, "^[ \t\n\r]*", i + 2)
  return last + 1
end

-- What is at `i`, for a message: a printable character quoted, else its byte value.
local function shown(s, i)
  local b = byte(s, i)
  if b == nil then
    return "end of text"
  elseif b >= 32 and b < 127 then
    return "'" .. sub(s, i, i) .. "'"
  end
  return string.format("byte 0x%02X", b)
end

local read_value

-- The string whose opening quote is at `i`, and the position after it.
local function read_string(s, i)
  local k, escaped = i + 1, false
  while true do
    local j = find(s, '[%z\1-\31"\\]', k)
    local b = byte(s, j or -1)
    if j == nil then
      fail(i, "unterminated string")
    elseif b == 34 then -- the closing quote
      local text = sub(s, i + 1, j - 1)
      if escaped then
        text = unescape(text)
        if text == nil then
          fail(i, "invalid escape in a string")
        end
      end
      if utf8_len(text) == nil then
        fail(i, "string is not valid UTF-8")
      end
      return text, j + 1
    elseif b == 92 then -- a backslash: the next character is escaped
      escaped, k = true, j + 2
    else
      fail(j, "control character in a string")
    end
  end
end

-- The number at `i`, and the position after it. Integers that fit in 64 bits stay integers.
-- tonumber reads the token; JSON's grammar is stricter about where digits must be.
local function read_number(s, i)
  local token = match(s, "^[-+.%deE]+", i)
  local value = tonumber(token)
  local first = byte(token) == 45 and 2 or 1 -- after a '-'
  local digit = byte(token, first)
  local valid = value ~= nil and digit ~= nil and digit >= 48 and digit <= 57
  if valid and digit == 48 then -- no leading zero
    local after = byte(token, first + 1)
    valid = after == nil or after < 48 or after > 57
  end
  if valid and math_type(value) == "float" then -- a digit after the '.', if any
    local dot = find(token, ".", first, true)
    local after = dot and byte(token, dot + 1)
    valid = dot == nil or (after ~= nil and after >= 48 and after <= 57)
  end
  if not valid then
    fail(i, "invalid number")
  end
  return value, i + #token
end

local function read_array(s, i, depth)
  if depth > json.MAX_DEPTH then
    fail(i, "nested deeper than " .. json.MAX_DEPTH .. " levels")
  end
  local result, n = {}, 0
  i = skip_space(s, i + 1)
  if byte(s, i) == 93 then -- ']'
    return result, i + 1
  end
  while true do
    n = n + 1
    result[n], i = read_value(s, i, depth)
    i = skip_space(s, i)
    local b = byte(s, i)
    if b == 93 then
      return result, i + 1
    elseif b ~= 44 then -- ','
      fail(i, "expected ',' or ']' but found " .. shown(s, i))
    end
    i = skip_space(s, i + 1)
  end
end

local function read_object(s, i, depth)
  if depth > json.MAX_DEPTH then
    fail(i, "nested deeper than " .. json.MAX_DEPTH .. " levels")
  end
  local result = {}
  i = skip_space(s, i + 1)
  if byte(s, i) == 125 then -- '}'
    return result, i + 1
  end
  while true do
    if byte(s, i) ~= 34 then
      fail(i, "expected a string key but found " .. shown(s, i))
    end
    local key, value
    key, i = read_string(s, i)
    i = skip_space(s, i)
    if byte(s, i) ~= 58 then -- ':'
      fail(i, "expected ':' but found " .. shown(s, i))
    end
    value, i = read_value(s, skip_space(s, i + 1), depth)
    if value == NULL then
      value = nil -- and a later duplicate key wins, as in most decoders
    end
    result[key] = value
    i = skip_space(s, i)
    local b = byte(s, i)
    if b == 125 then
      return result, i + 1
    elseif b ~= 44 then
      fail(i, "expected ',' or '}' but found " .. shown(s, i))
    end
    i = skip_space(s, i + 1)
  end
end

local LITERALS = { [116] = { "true", true }, [102] = { "false", false }, [110] = { "null", NULL } }

-- The value at `i` (inside `depth` arrays and objects), and the position after it.
read_value = function(s, i, depth)
  local b = byte(s, i)
  if b == 34 then
    return read_string(s, i)
  elseif b == 123 then
    return read_object(s, i, depth + 1)
  elseif b == 91 then
    return read_array(s, i, depth + 1)
  elseif b == 45 or (b and b >= 48 and b <= 57) then
    return read_number(s, i)
  end
  local literal = LITERALS[b]
  if literal and sub(s, i, i + #literal[1] - 1) == literal[1] then
    return literal[2], i + #literal[1]
  end
  fail(i, "unexpected " .. shown(s, i))
end

--- The value of the JSON `text`: objects and arrays become tables (a null field of an object
--- is left out; a null in an array, or a text that is just null, is json.null), numbers become
--- integers when they have no fraction or exponent and fit in 64 bits. A text that is not
--- valid JSON (UTF-8, no trailing garbage, nesting within MAX_DEPTH) gives nil and a message
--- naming the byte where it goes wrong.
function json.decode(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'qtui.json.decode' (string expected, got " .. type(text) .. ")", 2)
  end
  local ok, value, after = pcall(read_value, text, skip_space(text, 1), 0)
  if not ok then
    if getmetatable(value) ~= FAILURE then
      error(value, 0) -- a limit of the plugin's, or not enough memory: not ours to handle
    end
    return nil, "qtui.json.decode: " .. value.what .. " at byte " .. value.at
  end
  after = skip_space(text, after)
  if after <= #text then
    return nil, "qtui.json.decode: unexpected " .. shown(text, after) .. " after the value at byte "
      .. after
  end
  return value
end

return json
