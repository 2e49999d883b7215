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
-- `json.decode` turns a whole JSON text into Lua values: the host parses it (qtui.json.decode
-- of API 1.1), within the plugin's limits, and a text it refuses gives nil and the reason.

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
-- not valid or when the work of lookup `st` runs out.
local function unescape(raw, st)
  local parts, k = {}, 1
  while true do
    local j = raw:find("\\", k, true)
    if j == nil then
      parts[#parts + 1] = raw:sub(k)
      return table.concat(parts)
    end
    if not step(st, 2) then
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
--- and for a text that is just null: qtui.json.null. In an object a null field is left out.
json.null = native.null

local decode = native.json_decode

--- The value of the JSON `text`, parsed by the host (qtui.json.decode): objects and arrays
--- become tables, numbers become integers when they have no fraction or exponent and fit in
--- 64 bits. A text that is not valid JSON (or nested deeper than MAX_DEPTH, or too big for the
--- plugin's limits) gives nil and a message naming where it goes wrong.
function json.decode(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'qtui.json.decode' (string expected, got " .. type(text) .. ")", 2)
  end
  local ok, value = pcall(decode, text)
  if not ok then
    return nil, value
  end
  return value
end

return json
