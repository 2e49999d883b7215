-- The spec side of `qtui plugin test`: busted-style globals and the `qtest` driver objects.
--
-- Loaded into each spec file's sandbox before the spec itself (see qtui/plugins/spectest.py).
-- The host functions it wraps are exposed under `_qtest` by qtui/plugins/_spec_driver.py;
-- this chunk takes them and removes the global. It defines:
--
--   describe(name, fn)  it(name, fn)  before_each(fn)  after_each(fn)
--   assert(value, message)  assert.equals/same/is_true/is_nil/matches/has_error/...
--   qtest.load{...} -> plugin   qtest.advance(seconds)
--   _qtest_tests() / _qtest_run(index)   for the Python runner
--
-- Failures raise strings that start with the spec file's "file:line: " (the assertion's
-- caller), followed by "expected: ...\n     got: ..." where that makes sense.

local host = _qtest
_qtest = nil

local error, pcall, type, tostring, ipairs, pairs, select, setmetatable =
      error, pcall, type, tostring, ipairs, pairs, select, setmetatable
local math_type = math.type
local s_byte, s_find, s_format, s_gsub, s_match, s_sub =
      string.byte, string.find, string.format, string.gsub, string.match, string.sub
local t_concat, t_sort, t_pack, t_unpack = table.concat, table.sort, table.pack, table.unpack

-- "file:line" of a caller: position(1) is the function calling position, 2 its caller.
local function position(level)
  local _, message = pcall(error, "", level + 2)
  return (s_gsub(message, ": $", ""))
end

---------------------------------------------------------------------------------------------
-- Showing values

local MAX_SHOWN = 2000

local function quote(text)
  local escaped = s_gsub(text, '[%c"\\\127]', function(char)
    if char == '"' or char == "\\" then
      return "\\" .. char
    elseif char == "\n" then
      return "\\n"
    elseif char == "\t" then
      return "\\t"
    end
    return s_format("\\%d", s_byte(char))
  end)
  return '"' .. escaped .. '"'
end

local show

local function ordered_keys(t)
  local keys, count = {}, #t
  for key in pairs(t) do
    if not (math_type(key) == "integer" and key >= 1 and key <= count) then
      keys[#keys + 1] = key
    end
  end
  t_sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then
      return ta < tb
    end
    if ta == "number" or ta == "string" then
      return a < b
    end
    return tostring(a) < tostring(b)
  end)
  return keys, count
end

local function show_table(t, depth, seen)
  if seen[t] then
    return "<cycle>"
  end
  if depth > 6 then
    return "{...}"
  end
  seen[t] = true
  local parts = {}
  local keys, count = ordered_keys(t)
  for i = 1, count do
    parts[#parts + 1] = show(t[i], depth + 1, seen)
  end
  for _, key in ipairs(keys) do
    local name
    if type(key) == "string" and s_match(key, "^[%a_][%w_]*$") then
      name = key
    else
      name = "[" .. show(key, depth + 1, seen) .. "]"
    end
    parts[#parts + 1] = name .. " = " .. show(t[key], depth + 1, seen)
  end
  seen[t] = nil
  return "{" .. t_concat(parts, ", ") .. "}"
end

show = function(value, depth, seen)
  local kind = type(value)
  if kind == "string" then
    return quote(value)
  elseif kind == "table" then
    return show_table(value, depth or 1, seen or {})
  elseif kind == "number" or kind == "boolean" or kind == "nil" then
    return tostring(value)
  end
  return "<" .. kind .. ">"
end

local function shown(value)
  local text = show(value)
  if #text > MAX_SHOWN then
    text = s_sub(text, 1, MAX_SHOWN) .. "..."
  end
  return text
end

local function expected_got(expected, got)
  return "expected: " .. expected .. "\n     got: " .. got
end

---------------------------------------------------------------------------------------------
-- Assertions

local function same(a, b, seen)
  if a == b then
    return true
  end
  if type(a) ~= "table" or type(b) ~= "table" then
    return false
  end
  seen = seen or {}
  if seen[a] == b then
    return true
  end
  seen[a] = b
  for key, value in pairs(a) do
    if not same(value, b[key], seen) then
      return false
    end
  end
  for key in pairs(b) do
    if a[key] == nil then
      return false
    end
  end
  return true
end

-- The message of an error raised by a spec or plugin, without its "file:line: " position.
local function bare(message)
  if type(message) ~= "string" then
    return message
  end
  return s_match(message, "^[^\n]-:%d+: (.*)$") or message
end

-- Each check: `arity` (arguments before an optional message; `extra` more optional ones) and
-- `test(...)` -> ok, the failure message, the failure message of the negated form (is_not...).
local function is_type(name)
  return {
    arity = 1,
    test = function(value)
      return type(value) == name, expected_got("a " .. name, shown(value)),
             expected_got("anything but a " .. name, shown(value))
    end,
  }
end

local function is_value(literal)
  return {
    arity = 1,
    test = function(value)
      return value == literal, expected_got(tostring(literal), shown(value)),
             expected_got("anything but " .. tostring(literal), shown(value))
    end,
  }
end

-- Call `fn` for has_error and error_matches: raised?, the message without its position.
local function raising(fn)
  if type(fn) ~= "function" then
    error("has_error takes a function to call, not a " .. type(fn), 4)
  end
  local ok, message = pcall(fn)
  if ok then
    return false, "no error"
  end
  return true, "error " .. shown(bare(message)), message
end

local function truthy(value)
  return value ~= nil and value ~= false
end

local CHECKS = {
  equals = {
    arity = 2,
    test = function(expected, got)
      local text = expected_got(shown(expected), shown(got))
      if type(expected) == "table" and expected ~= got and same(expected, got) then
        text = text .. "\n(equal contents but different tables: use assert.same)"
      end
      return expected == got, text, "expected anything but: " .. shown(got)
    end,
  },
  same = {
    arity = 2,
    test = function(expected, got)
      return same(expected, got), expected_got(shown(expected), shown(got)),
             "expected anything but: " .. shown(got)
    end,
  },
  ["true"] = is_value(true),
  ["false"] = is_value(false),
  ["nil"] = is_value(nil),
  truthy = {
    arity = 1,
    test = function(value)
      return truthy(value), expected_got("a value other than nil or false", shown(value)),
             expected_got("nil or false", shown(value))
    end,
  },
  falsy = {
    arity = 1,
    test = function(value)
      return not truthy(value), expected_got("nil or false", shown(value)),
             expected_got("a value other than nil or false", shown(value))
    end,
  },
  matches = {
    arity = 2,
    extra = 2, -- init, plain (as string.find)
    test = function(pattern, text, init, plain)
      local found = type(text) == "string" and s_find(text, pattern, init, plain) ~= nil
      return found, expected_got("text matching " .. shown(pattern), shown(text)),
             expected_got("text not matching " .. shown(pattern), shown(text))
    end,
  },
  error = {
    arity = 1,
    extra = 1, -- the expected message, without its position
    test = function(fn, expected)
      local raised, got, message = raising(fn)
      local want = expected == nil and "an error" or "error " .. shown(expected)
      local ok = raised and (expected == nil or bare(message) == expected or message == expected)
      return ok, expected_got(want, got), expected_got("no error", got)
    end,
  },
  error_matches = {
    arity = 2,
    extra = 2,
    test = function(fn, pattern, init, plain)
      local raised, got, message = raising(fn)
      local ok = raised and type(message) == "string" and s_find(bare(message), pattern, init, plain) ~= nil
      return ok, expected_got("an error matching " .. shown(pattern), got),
             expected_got("no error matching " .. shown(pattern), got)
    end,
  },
  integer = {
    arity = 1,
    test = function(value)
      return math_type(value) == "integer", expected_got("an integer", shown(value)),
             expected_got("anything but an integer", shown(value))
    end,
  },
  string = is_type("string"),
  number = is_type("number"),
  table = is_type("table"),
  boolean = is_type("boolean"),
  ["function"] = is_type("function"),
}
CHECKS.equal, CHECKS.match, CHECKS.errors = CHECKS.equals, CHECKS.matches, CHECKS.error
CHECKS.matches_error = CHECKS.error_matches

-- An assertion function; error level 2 puts the failure at the spec line that called it.
local function assertion(name, spec, negated)
  return function(...)
    local count = select("#", ...)
    local args = t_pack(...)
    local note
    local limit = spec.arity + (spec.extra or 0)
    if count > limit and type(args[count]) == "string" then
      note, args.n = args[count], count - 1
    end
    if count < spec.arity and spec.arity > 1 then
      error("assert." .. name .. " takes " .. spec.arity .. " argument(s), got " .. count, 2)
    end
    local ok, message, negated_message = spec.test(t_unpack(args, 1, args.n))
    if negated then
      ok, message = not ok, negated_message
    end
    if not ok then
      error(note and note .. "\n" .. message or message, 2)
    end
  end
end

local CHAIN_WORDS = { is = false, are = false, has = false, was = false, does = false,
                      ["not"] = true, no = true, is_not = true, are_not = true, has_no = true,
                      was_not = true, does_not = true }

local chains = {}

local function chain(negated)
  return chains[negated]
end

local function resolve(negated, key)
  if type(key) ~= "string" then
    return nil
  end
  local flip = CHAIN_WORDS[key]
  if flip ~= nil then
    return chain(negated ~= flip)
  end
  local name = key
  while true do
    local rest = s_match(name, "^is_(.+)$") or s_match(name, "^are_(.+)$")
      or s_match(name, "^has_(.+)$") or s_match(name, "^was_(.+)$") or s_match(name, "^does_(.+)$")
    if rest then
      name = rest
    else
      local negative = s_match(name, "^not_(.+)$") or s_match(name, "^no_(.+)$")
      if not negative then
        break
      end
      name, negated = negative, not negated
    end
  end
  local spec = CHECKS[name]
  if spec == nil then
    error("assert." .. key .. " is not an assertion", 3)
  end
  return assertion(key, spec, negated)
end

for _, negated in ipairs({ false, true }) do
  chains[negated] = setmetatable({}, {
    __index = function(_, key) return resolve(negated, key) end,
    __newindex = function() error("assert is read-only", 2) end,
  })
end

local assert_table = setmetatable({}, {
  __index = function(_, key) return resolve(false, key) end,
  __newindex = function() error("assert is read-only", 2) end,
  __call = function(_, value, message, ...)
    if value == nil or value == false then
      error(message ~= nil and tostring(message) or "assertion failed", 2)
    end
    return value, message, ...
  end,
})
assert = assert_table

---------------------------------------------------------------------------------------------
-- describe / it

local blocks = { { names = {}, before = {}, after = {} } }  -- the open describe blocks
local tests = {}
local running = false

local function current()
  return blocks[#blocks]
end

local function check_registration(what, name, fn, has_name)
  if running then
    error(what .. " cannot be used inside a test", 3)
  end
  if has_name and type(name) ~= "string" then
    error(what .. " takes a name (a string) first", 3)
  end
  if type(fn) ~= "function" then
    error(what .. " takes a function" .. (has_name and " after the name" or ""), 3)
  end
end

function describe(name, fn)
  check_registration("describe", name, fn, true)
  local parent = current()
  local names = { t_unpack(parent.names) }
  names[#names + 1] = name
  local before = { t_unpack(parent.before) }
  local after = { t_unpack(parent.after) }
  blocks[#blocks + 1] = { names = names, before = before, after = after }
  local ok, message = pcall(fn)
  blocks[#blocks] = nil
  if not ok then
    error(message, 0)
  end
end

function it(name, fn)
  check_registration("it", name, fn, true)
  local block = current()
  local names = { t_unpack(block.names) }
  names[#names + 1] = name
  tests[#tests + 1] = {
    names = names,
    fn = fn,
    before = { t_unpack(block.before) },
    after = { t_unpack(block.after) },
    where = position(2),
  }
end

function before_each(fn)
  check_registration("before_each", nil, fn, false)
  local list = current().before
  list[#list + 1] = fn
end

function after_each(fn)
  check_registration("after_each", nil, fn, false)
  local list = current().after
  list[#list + 1] = fn
end

-- Everything the spec registered, for the runner: {names = {...}, where = "file:line"}.
function _qtest_tests()
  local list = {}
  for i, test in ipairs(tests) do
    list[i] = { names = test.names, where = test.where }
  end
  return list
end

local function failure_text(message)
  if type(message) == "string" then
    return message
  end
  return "error value " .. shown(message)
end

-- Run test `index` with its before_each and after_each functions; after_each always runs.
function _qtest_run(index)
  local test = tests[index]
  running = true
  local ok, message = true, nil
  for _, fn in ipairs(test.before) do
    ok, message = pcall(fn)
    if not ok then
      break
    end
  end
  if ok then
    ok, message = pcall(test.fn)
  end
  for i = #test.after, 1, -1 do
    local after_ok, after_message = pcall(test.after[i])
    if ok and not after_ok then
      ok, message = after_ok, after_message
    end
  end
  running = false
  if ok then
    return { ok = true }
  end
  return { ok = false, message = failure_text(message) }
end

---------------------------------------------------------------------------------------------
-- qtest: plugins in a real console

-- Call a host function; a refusal is raised at the spec line that called the method.
local function call(name, ...)
  local results = t_pack(pcall(host[name], ...))
  if not results[1] then
    local message = results[2]
    if type(message) == "string" then
      message = s_gsub(message, "^_qtest%.[%w_]+: ", "", 1)
    end
    error(message, 3)
  end
  return t_unpack(results, 2, results.n)
end

local Plugin = {}
Plugin.__index = Plugin

local function plugin(id)
  return setmetatable({ id = id }, Plugin)
end

qtest = {}

--- Start a plugin in a new console on its own scripted queue; see qtui/plugins/spectest.py.
function qtest.load(options)
  local id = call("load", options or {})
  return plugin(id)
end

--- Move the console's clock on: every timer that comes due fires, in order.
function qtest.advance(seconds)
  call("advance", seconds)
end

--- Start another plugin in the same console (same queue, bus and clock).
function Plugin:add(options)
  local id = call("add", self.id, options or {})
  return plugin(id)
end

function Plugin:send(event)
  call("send", self.id, event)
end

function Plugin:tick(name)
  call("tick", self.id, name)
end

function Plugin:command(name, args, row)
  call("command", self.id, name, args, row)
end

function Plugin:settings(changes)
  local values = call("settings", self.id, changes)
  return values
end

function Plugin:panel(name)
  local lines = call("panel", self.id, name)
  return lines
end

function Plugin:panels()
  local panels = call("panels", self.id)
  return panels
end

function Plugin:text(name)
  local lines = call("panel", self.id, name)
  local texts = {}
  for i, line in ipairs(lines) do
    texts[i] = line.text
  end
  return texts
end

function Plugin:state()
  local status = call("status", self.id)
  return status.state, status.reason
end

function Plugin:error()
  local status = call("status", self.id)
  return status.error
end

function Plugin:errors()
  local status = call("status", self.id)
  return status.errors
end

-- What the plugin showed, logged, asked and set up, each a list read from the driver:
-- p:notices(), p:audit(), p:log(), p:confirmations(), p:commands(), p:timers().
for _, what in ipairs({"notices", "audit", "log", "confirmations", "commands", "timers"}) do
  Plugin[what] = function(self)
    return call(what, self.id)
  end
end

function Plugin:jobs(queue, state)
  local jobs = call("jobs", self.id, queue, state)
  return jobs
end

function Plugin:stop()
  local handoff = call("stop", self.id)
  return handoff
end

function Plugin:reload(options)
  call("reload", self.id, options or {})
end

--- Feed a recording (qtui record) into the plugin; returns how many events it received.
function Plugin:replay(file)
  local count = call("replay", self.id, file)
  return count
end

--- The recording given with `qtui plugin test --replay FILE`, or nil.
qtest.recording = host and host.recording()
