-- Trusted prelude of the qtui plugin sandbox (Lua 5.4).
--
-- Runs once in a fresh state that still has the full standard library. It captures what it
-- needs, builds the plugin's environment from safe, guarded and read-only pieces, arms the
-- instruction count hook and then empties the real globals. It returns the operations the
-- Python side (qtui/plugins/sandbox.py) uses. Plugin code never sees anything defined here
-- except the environment and the functions placed in it.
--
-- `host` holds Python callables (never handed to plugin code) and settings:
--   tick(used[, collected]) -> nil | KiB | {message} | true   the host's check of a call
--                                                 that has run `used` instructions: go on, go
--                                                 on and look at the heap above KiB, trip, or
--                                                 collect garbage and check again (collected)
--   over(used) -> {message} | nil                 the call ran past its instruction budget
--   trip(message, kind)                           records a refusal: a guard's, or a value's
--                                                 over the bounds when kind is "value"
--   dispatch(id, json | false, ...) -> 1, number | boolean | nil; 2, {value}; 0, {message}
--                                                 calls host function `id` with the arguments
--                                                 in JSON, or (false) the scalars that follow
--                                                 (returned, boxed, failed)
--   compute(id, json | false, ...) -> the same     dispatch for a library native: work that
--                                                 never waits, charged as the plugin's own
--   resolve(name) -> true, {source, chunkname, library} | false, {message}  finds a module
--                                                 for `require` (library: it is qtui's, not
--                                                 the plugin's)
--   output(line)                                  receives `print` output
--   time() -> seconds since the epoch             the host's wall clock (os.time, os.date)
--   clock() -> seconds since the runtime was made   the host's monotonic clock (os.clock)
--   step, check_steps, instructions, memory_check_kib, overdue_seconds, c_steps,
--   source_bytes, max_jumps, max_depth, max_items, max_bytes, output_bytes   numbers
--
-- Values only cross as strings, numbers and booleans, or as tables the host built while the
-- memory cap was lifted (a {value} box): pushing anything else from a callback could fail
-- to allocate where Lua cannot recover.

local host = ...

local G = _G
local string, table, coroutine, math, utf8, os = string, table, coroutine, math, utf8, os
local debug_getinfo, debug_gethook, debug_sethook = debug.getinfo, debug.gethook, debug.sethook
local raw_getmetatable, raw_setmetatable = debug.getmetatable, debug.setmetatable
local error, getmetatable, ipairs, load, next, pcall, rawget, rawset, select, setmetatable,
      tonumber, tostring, type =
      error, getmetatable, ipairs, load, next, pcall, rawget, rawset, select, setmetatable,
      tonumber, tostring, type
local s_char, s_pack, t_unpack, utf8_len = string.char, string.pack, table.unpack, utf8.len
local rawlen = rawlen
local HUGE, math_max, math_sqrt = math.huge, math.max, math.sqrt
local collectgarbage = collectgarbage
local s_byte, s_find, s_format, s_gmatch, s_gsub, s_match, s_rep, s_sub =
      string.byte, string.find, string.format, string.gmatch, string.gsub, string.match,
      string.rep, string.sub
local t_concat, t_insert, t_move, t_remove, t_sort =
      table.concat, table.insert, table.move, table.remove, table.sort
local co_create, co_running, co_wrap = coroutine.create, coroutine.running, coroutine.wrap
local math_floor, math_log, math_min, math_type = math.floor, math.log, math.min, math.type
local os_clock, os_date, os_difftime, os_time = os.clock, os.date, os.difftime, os.time

-- Everything below uses locals only: a stray global access fails loudly.
local _ENV <const> = nil

local tick, over, trip, dispatch, resolve, output, host_time, host_clock =
      host.tick, host.over, host.trip, host.dispatch, host.resolve, host.output, host.time, host.clock
local C_STEPS = host.c_steps
local SOURCE_BYTES = host.source_bytes
local MAX_JUMPS = host.max_jumps
local MAX_DEPTH, MAX_ITEMS, MAX_BYTES = host.max_depth, host.max_items, host.max_bytes
local OUTPUT_BYTES = host.output_bytes
local STEP, CHECK_STEPS, BUDGET = host.step, host.check_steps, host.instructions
local MEMORY_CHECK_KIB = host.memory_check_kib
local interval = STEP -- the hook's count now: STEP, or 1 once a trip made it sticky

-- Python objects in this state (the callables above) share one metatable: lock it.
getmetatable(tick).__metatable = false

local PRELUDE = debug_getinfo(1, "S").source

-- "file:line: " of the innermost plugin frame (Lua code outside this prelude), or "".
local function plugin_position()
  for level = 2, 40 do
    local info = debug_getinfo(level, "Sl")
    if info == nil then break end
    if info.what ~= "C" and info.source ~= PRELUDE and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

---------------------------------------------------------------------------------------------
-- Limits: the count hook, sticky trips, hooked coroutines

-- Runs every STEP VM instructions of each Lua thread and counts them for the call here, in
-- Lua: the common path takes no lock of the host's, and the count is exact to a step whatever
-- the machine's speed. Past the budget it trips at once. Every CHECK_STEPS steps, when the heap
-- nears the cap, or when the sentinel below made it run early, it asks the host, which reads
-- the thread's CPU time, the interrupt flag, the wall-clock backstop and the heap. After a trip
-- it runs on every instruction and raises again as long as the host says the trip stands (until
-- the call has unwound), so pcall cannot swallow it.
local main_thread = co_running()
local hook
local last_tick -- when the host last checked (process CPU time), or nil: not yet in this call
local OVERDUE_SECONDS = host.overdue_seconds
local used, steps_to_check, memory_check_kib = 0, CHECK_STEPS, MEMORY_CHECK_KIB
local tripped -- the message of this call's trip

-- After a trip every hook invocation raises again: run the hook on every instruction of
-- this thread, of the main thread (which resumed it) and of coroutines started from now on.
local function stick(count)
  interval = 1
  if count ~= 1 then
    debug_sethook(hook, "", 1)
  end
  if co_running() ~= main_thread and select(3, debug_gethook(main_thread)) ~= 1 then
    debug_sethook(main_thread, hook, "", 1)
  end
end

local function check(count)
  steps_to_check = CHECK_STEPS
  last_tick = os_clock()
  local verdict = tick(used)
  if verdict == true then
    -- The heap is close to the cap: see what a full collection leaves before judging.
    collectgarbage("collect")
    verdict = tick(used, true)
  end
  if verdict == nil or math_type(verdict) ~= nil then
    memory_check_kib = verdict or memory_check_kib
    if count ~= interval then -- the sentinel made this one run early
      debug_sethook(hook, "", interval)
    end
    return nil
  end
  return verdict[1]
end

hook = function()
  local _, _, count = debug_gethook()
  if tripped ~= nil then
    -- Sticky: the host says whether the trip still stands (a call is still unwinding).
    local verdict = tick(used)
    if type(verdict) ~= "table" then -- the call is over: this is the host's own Lua
      tripped, used, interval = nil, 0, STEP
      debug_sethook(hook, "", STEP)
      return
    end
    tripped = verdict[1]
  else
    used = used + count
    if used > BUDGET then
      local verdict = over(used)
      if verdict == nil then -- not in a call: the host's own Lua
        used = 0
        return
      end
      tripped = verdict[1]
    else
      steps_to_check = steps_to_check - 1
      if steps_to_check > 0 and count == interval and collectgarbage("count") < memory_check_kib then
        return
      end
      tripped = check(count)
      if tripped == nil then
        return
      end
    end
  end
  stick(count)
  error(plugin_position() .. tripped, 0)
end

-- A count hook cannot fire before its count runs out, and one instruction can take long (a
-- concatenation of megabytes). Such work makes garbage, so a collection cycle comes soon:
-- this finalizer, re-armed every cycle, makes the hook fire at the next instruction when it
-- is overdue (by process CPU time since the host's last check, or since the call's first
-- cycle: reading the clock costs a system call, too much for every call). Plugins cannot define
-- finalizers; this one is private. It must not call Python: finalizers also run while lupa
-- closes the state.
local function check_if_overdue()
  local now = os_clock()
  if last_tick == nil then
    last_tick = now
  elseif now - last_tick > OVERDUE_SECONDS then
    debug_sethook(hook, "", 1)
  end
end

local sentinel_mt = {}
sentinel_mt.__gc = function()
  setmetatable({}, sentinel_mt)
  check_if_overdue()
end
setmetatable({}, sentinel_mt)

-- A guard refused a library call (or a value its bounds): record the violation, make it
-- sticky and abort.
local function refuse(message, kind)
  trip(message, kind)
  tripped = message
  stick(select(3, debug_gethook()))
  error(plugin_position() .. message, 0)
end

-- Count hooks are per thread and not inherited: every coroutine arms its own on entry.
local function hooked(f)
  return function(...)
    debug_sethook(hook, "", interval)
    return f(...)
  end
end

local function safe_cocreate(f)
  if type(f) ~= "function" then
    error("bad argument #1 to 'create' (function expected, got " .. type(f) .. ")", 2)
  end
  return co_create(hooked(f))
end

local function safe_cowrap(f)
  if type(f) ~= "function" then
    error("bad argument #1 to 'wrap' (function expected, got " .. type(f) .. ")", 2)
  end
  return co_wrap(hooked(f))
end

-- Lua runs xpcall message handlers with hooks off; run the handler as ordinary hooked code
-- after unwinding instead.
local function xpcall_result(handler, ok, ...)
  if ok then
    return true, ...
  end
  local _, message = pcall(handler, (...))
  return false, message
end

local function safe_xpcall(f, handler, ...)
  if type(handler) ~= "function" then
    error("bad argument #2 to 'xpcall' (function expected, got " .. type(handler) .. ")", 2)
  end
  return xpcall_result(handler, pcall(f, ...))
end

---------------------------------------------------------------------------------------------
-- Read-only tables

local frozen = setmetatable({}, { __mode = "k" }) -- proxy -> backing table

-- An empty proxy that reads through to `backing` and refuses writes (rawset included).
local function freeze(backing, name)
  local proxy = {}
  setmetatable(proxy, {
    __index = backing,
    __newindex = function()
      error("'" .. name .. "' is read-only", 2)
    end,
    __pairs = function()
      return function(_, key)
        return next(backing, key)
      end, proxy, nil
    end,
    __len = function()
      return #backing
    end,
    __metatable = false,
  })
  frozen[proxy] = backing
  return proxy
end

local function safe_rawset(t, key, value)
  if frozen[t] then
    error("rawset: table is read-only", 2)
  end
  return rawset(t, key, value)
end

local function safe_rawget(t, key)
  local backing = frozen[t]
  if backing then
    return rawget(backing, key)
  end
  return rawget(t, key)
end

local function safe_setmetatable(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: '__gc' metamethods are not available to plugins", 2)
  end
  return setmetatable(t, mt)
end

local function has_len_metamethod(t)
  local mt = raw_getmetatable(t)
  return mt ~= nil and rawget(mt, "__len") ~= nil
end

---------------------------------------------------------------------------------------------
-- Guards for library calls that run long in C, where no hook can stop them. Costs are in
-- "steps" of a few nanoseconds; one call may spend at most C_STEPS.

local function steps(n)
  return s_format("%.3g", n)
end

-- Lua patterns ------------------------------------------------------------------------------

local SPECIALS = "[%^%$%*%+%?%.%(%[%%%-]"

-- Index just past the single-character class that starts at `i` (as lstrlib's classEnd).
local function class_end(p, i, len)
  local c = s_byte(p, i)
  if c == 37 then -- '%'
    return i + 2
  end
  if c == 91 then -- '['
    local j = i + 1
    if s_byte(p, j) == 94 then
      j = j + 1
    end
    repeat
      if j > len then
        return len + 1
      end
      local cj = s_byte(p, j)
      j = j + 1
      if cj == 37 then
        j = j + 1
      end
    until s_byte(p, j) == 93
    return j + 1
  end
  return i + 1
end

-- The class as a pattern of its own, or "." when it is malformed (counted as matching all).
local function standalone(class)
  if class == "^" or class == "$" then
    return "%" .. class
  end
  if class == "%" or (s_byte(class, 1) == 91 and s_byte(class, -1) ~= 93) then
    return "."
  end
  return class
end

-- Matcher steps to test one character against the class p[i .. e-1]: a set ([...]) is
-- scanned item by item, every other class is one test.
local function class_weight(p, i, e)
  if s_byte(p, i) == 91 and e - i > 3 then
    return e - i - 2
  end
  return 1
end

-- Pattern -> { anchored, items = { {kind, class, quant, weight}... }, weight (their sum),
-- expanding, linear, optional }
local function parse_pattern(p, anchors)
  local items, len, i = {}, #p, 1
  local anchored = false
  if anchors and s_byte(p, 1) == 94 then
    anchored, i = true, 2
  end
  local expanding, linear, optional, weight, counted = 0, 0, 0, 0, 0
  while i <= len do
    local c, d = s_byte(p, i), s_byte(p, i + 1)
    if c == 40 or c == 41 then -- capture parentheses
      i = i + 1
    elseif c == 36 and i == len then -- '$' anchor
      i = i + 1
    elseif c == 37 and d == 98 then -- %bxy
      items[#items + 1] = { kind = "linear", weight = 1 }
      linear = linear + 1
      i = i + 4
    elseif c == 37 and d == 102 then -- %f[set]: the set is tested on two characters
      local e = class_end(p, i + 2, len)
      items[#items + 1] = { kind = "frontier", weight = 2 * class_weight(p, i + 2, e) }
      i = e
    elseif c == 37 and d and d >= 48 and d <= 57 then -- back reference
      items[#items + 1] = { kind = "linear", weight = 1 }
      linear = linear + 1
      i = i + 2
    else
      local e = class_end(p, i, len)
      local q = s_sub(p, e, e)
      local item = { kind = "single", class = standalone(s_sub(p, i, e - 1)),
                     weight = class_weight(p, i, e) }
      if q == "*" or q == "+" or q == "-" then
        item.quant, expanding = q, expanding + 1
        e = e + 1
      elseif q == "?" then
        item.quant, optional = q, optional + 1
        e = e + 1
      end
      items[#items + 1] = item
      i = e
    end
    if #items > counted then
      counted = #items
      weight = weight + items[counted].weight
    end
  end
  return { anchored = anchored, items = items, weight = weight, expanding = expanding,
           linear = linear, optional = optional }
end

-- Plans by pattern, for find/match/gsub ('^' anchors) and for gmatch ('^' is a literal).
local anchored_plans, floating_plans = {}, {}
local plan_count = 0

-- The crude bound below, solved for the subject length: longer subjects need a closer look.
local function safe_length(weight, exponent, optional)
  local budget = C_STEPS / ((weight + 1) * 2 ^ optional)
  if budget < 1 then
    return -1
  end
  if exponent == 0 then
    return budget - 1
  end
  return budget ^ (1 / exponent) - 1
end

local function pattern_plan(p, plans)
  local plan = plans[p]
  if plan == nil then
    if plan_count >= 512 then
      for key in next, anchored_plans do anchored_plans[key] = nil end
      for key in next, floating_plans do floating_plans[key] = nil end
      plan_count = 0
    end
    plan = parse_pattern(p, plans == anchored_plans)
    local exponent = plan.expanding + plan.linear + (plan.anchored and 0 or 1)
    plan.safe_length = safe_length(plan.weight, exponent, plan.optional)
    plan.literal = not s_find(p, SPECIALS)
    plan.safe_plain = C_STEPS / (1 + #p / 16) -- memchr + memcmp search, see pattern_cost
    plans[p] = plan
    plan_count = plan_count + 1
  end
  return plan
end

-- Worst-case matcher steps of `plan` over subject `s`, refined with what `s` holds: each
-- expanding item branches at most (longest run of its class + 1) ways, and a fixed item
-- right after it keeps at most (occurrences of that item + 1) of those branches. Looking at
-- `s` costs a pass over it per class; a class too heavy for that leaves the crude bound.
local function refined_cost(s, plan, starts, crude)
  local n = #s
  for k = 1, #plan.items do
    if n * plan.items[k].weight > C_STEPS then
      return crude
    end
  end
  local counts, runs = {}, {}
  local function count(class)
    local c = counts[class]
    if c == nil then
      c = class == "." and n or select(2, s_gsub(s, class, ""))
      counts[class] = c
    end
    return c
  end
  local function run(class)
    local r = runs[class]
    if r == nil then
      r = 0
      if class == "." then
        r = n
      elseif count(class) > 0 then
        for a, b in s_gmatch(s, "()" .. class .. "+()") do
          if b - a > r then
            r = b - a
          end
        end
      end
      runs[class] = r
    end
    return r
  end
  local items = plan.items
  -- `ways`: how many partial matches can end at one position of `s` (one per start until an
  -- item can match different lengths). A fixed item matches only at its occurrences, so at
  -- most (occurrences x ways) partial matches get past it.
  local paths, ways, cost = starts, 1, 0
  for k = 1, #items do
    local item = items[k]
    local weight = item.weight
    if item.kind == "single" then
      local q = item.quant
      if q == nil then
        cost = cost + paths * weight
        paths = math_min(paths, count(item.class) * ways)
      elseif q == "?" then
        cost = cost + paths * weight
        paths, ways = paths * 2, ways * 2
      else
        local branches = run(item.class) + 1
        cost = cost + paths * branches * weight
        local after = items[k + 1]
        local kept = branches
        if after and after.kind == "single" and after.quant == nil then
          kept = math_min(branches, count(after.class) + 1)
        end
        paths, ways = paths * kept, ways * branches
      end
    elseif item.kind == "linear" then
      cost = cost + paths * (n + 1)
    else
      cost = cost + paths * weight
    end
    if cost > C_STEPS then
      return cost
    end
  end
  return cost + paths
end

local function pattern_cost(s, p, plan, plain_search)
  local n = #s
  if plain_search then
    -- memchr for the first byte, then a memcmp (about 16 bytes a step) at each hit
    local cost = n + n * #p / 16
    if cost > C_STEPS then
      local first = s_sub(p, 1, 1)
      if s_find(first, "%p") then
        first = "%" .. first
      end
      cost = n + select(2, s_gsub(s, first, "")) * #p / 16
    end
    return cost
  end
  local starts = plan.anchored and 1 or n + 1
  local cost = starts * (plan.weight + 1) * (n + 1) ^ (plan.expanding + plan.linear)
    * 2 ^ plan.optional
  if cost > C_STEPS then
    cost = refined_cost(s, plan, starts, cost)
  end
  return cost
end

-- The part of `s` a search from `init` can read, when that is well short of the rest of `s`
-- (else nil):
--   * An anchored pattern of single-character items consumes only characters its classes
--     match: it never reads past the first character none of them matches (`stop`).
--   * An unanchored pattern of one single-character item (a set search) stops at its first
--     hit, reading one character per start.
-- The look goes through growing windows: it costs about what the search it is for costs, and
-- gives up (nil) past REACH_WINDOW bytes or C_STEPS.
local REACH_WINDOW = 2 ^ 20

local function union_set(items)
  if #items == 0 then
    return nil
  end
  local parts = {}
  for k = 1, #items do
    local item = items[k]
    if item.kind ~= "single" then
      return nil
    end
    local class = item.class
    local first = s_byte(class, 1)
    if #class == 1 then
      if class == "." then
        return nil
      end
      parts[k] = s_find(class, "%w") and class or "%" .. class
    elseif first == 37 then -- %a, %d, an escaped character
      parts[k] = class
    else -- a set: its items join the union, unless it is negated or starts with ']'
      local inner = s_sub(class, 2, -2)
      if first ~= 91 or s_find(inner, "^[%^%]]") or inner == "" then
        return nil
      end
      parts[k] = inner
    end
  end
  return "[^" .. t_concat(parts) .. "]"
end

local function reach(s, init, plan)
  local n = #s
  local start = 1
  if init ~= nil then
    if type(init) ~= "number" or math_floor(init) ~= init then
      return nil -- the library converts or refuses it: no guessing here
    end
    start = init
  end
  if start < 0 then
    start = math_max(n + start + 1, 1)
  elseif start == 0 then
    start = 1
  end
  if start > n then
    return ""
  end
  local target, weight
  if plan.anchored then
    if plan.stop == nil then
      plan.stop = plan.linear == 0 and union_set(plan.items) or false
    end
    target, weight = plan.stop, plan.weight
  elseif #plan.items == 1 and plan.items[1].kind == "single" and plan.items[1].quant == nil then
    target, weight = plan.items[1].class, plan.items[1].weight
  end
  if not target then
    return nil
  end
  local most = math_min(REACH_WINDOW, C_STEPS / (weight + 1))
  local size = 64
  while size <= most do
    local window = s_sub(s, start, start + size - 1)
    local at = s_find(window, target)
    if at then
      return s_sub(window, 1, at)
    elseif #window < size then
      return window -- the rest of `s`
    end
    size = size * 4
  end
  return nil
end

-- Refuse the call when matching `p` over `s` (from `init`) could take longer than C_STEPS.
local function guard_pattern(fname, s, p, plain, plans, init)
  if type(s) == "number" then
    s = tostring(s)
  end
  if type(p) == "number" then
    p = tostring(p)
  end
  if type(s) ~= "string" or type(p) ~= "string" then
    return -- the library function reports the bad argument
  end
  local plan = plans[p]
  local plain_search = plain
  if fname == "string.find" and not plain then
    if plan == nil and #p <= 256 then
      plan = pattern_plan(p, plans) -- cached for the inline check next time
    end
    if plan then
      plain_search = plan.literal
    else
      plain_search = not s_find(p, SPECIALS)
    end
  end
  if plain_search then -- no plan needed: the needle may be huge
    if #s <= C_STEPS / (1 + #p / 16) then
      return
    end
  else
    plan = plan or pattern_plan(p, plans)
    if #s <= plan.safe_length then
      return
    end
  end
  -- What a find or match from `init` can read is often short: judged on that, a reader
  -- walking a big text pays for what it reads, not for a look at the whole text each time.
  local part = not plain_search and fname ~= "string.gsub" and fname ~= "string.gmatch"
    and reach(s, init, plan)
  local cost = pattern_cost(part or s, p, plan, plain_search)
  if cost > C_STEPS then
    refuse(fname .. ": pattern too costly for a " .. #s .. "-byte subject (about "
      .. steps(cost) .. " steps, limit " .. steps(C_STEPS) .. "); anchor it with '^',"
      .. " use a plain find or match smaller pieces")
  end
end

-- Each wrapper checks a cached plan inline: ordinary calls cost a lookup and a comparison.

local function safe_find(s, p, init, plain)
  local plan = not plain and anchored_plans[p]
  if not (plan and type(s) == "string"
      and #s <= (plan.literal and plan.safe_plain or plan.safe_length)) then
    guard_pattern("string.find", s, p, plain, anchored_plans, init)
  end
  return s_find(s, p, init, plain)
end

local function safe_match(s, p, init)
  local plan = anchored_plans[p]
  if not (plan and type(s) == "string" and #s <= plan.safe_length) then
    guard_pattern("string.match", s, p, false, anchored_plans, init)
  end
  return s_match(s, p, init)
end

local function safe_gmatch(s, p, init)
  local plan = floating_plans[p]
  if not (plan and type(s) == "string" and #s <= plan.safe_length) then
    guard_pattern("string.gmatch", s, p, false, floating_plans)
  end
  return s_gmatch(s, p, init)
end

-- A replacement string is copied for every match: more matches than the subject has
-- characters are impossible, and when that bound is too crude the matches are counted (a
-- match without replacing, which the pattern guard has just judged affordable).
local function guard_replacement(s, p, repl, n)
  if type(repl) ~= "string" or type(s) ~= "string" or #repl == 0 then
    return
  end
  local matches = #s + 1
  local most = tonumber(n)
  if most and most < matches then
    matches = math_max(most, 0)
  end
  if matches * (#repl + 1) <= C_STEPS then
    return
  end
  matches = math_min(matches, select(2, s_gsub(s, p, "", n)))
  local cost = matches * (#repl + 1)
  if cost > C_STEPS then
    refuse("string.gsub: a " .. #repl .. "-byte replacement for " .. matches .. " matches (about "
      .. steps(cost) .. " steps, limit " .. steps(C_STEPS) .. ")")
  end
end

local function safe_gsub(s, p, repl, n)
  local plan = anchored_plans[p]
  if not (plan and type(s) == "string" and #s <= plan.safe_length) then
    guard_pattern("string.gsub", s, p, false, anchored_plans)
  end
  guard_replacement(s, p, repl, n)
  return s_gsub(s, p, repl, n)
end

-- Other long C loops ------------------------------------------------------------------------

-- One loop step per repetition, even of an empty string, and a copy of each.
local function text_length(v)
  local kind = type(v)
  return (kind == "string" or kind == "number") and #tostring(v) or 0
end

local function safe_rep(s, n, sep)
  if sep == nil and type(s) == "string" and math_type(n) == "integer" and n * (1 + #s / 16) <= C_STEPS then
    return s_rep(s, n) -- the common case, checked inline
  end
  local count = tonumber(n)
  if count and count > 1 then
    local cost = count + count * (text_length(s) + text_length(sep)) / 16
    if cost > C_STEPS then
      refuse("string.rep: " .. steps(count) .. " repetitions of " .. text_length(s) .. " bytes (about "
        .. steps(cost) .. " steps, limit " .. steps(C_STEPS) .. ")")
    end
  end
  return s_rep(s, n, sep)
end

-- Padding and fixed-size fields are written a byte at a time: their sizes add up.
local function safe_pack(fmt, ...)
  if type(fmt) == "string" then
    local size = #fmt
    for digits in s_gmatch(fmt, "%d+") do
      size = size + (tonumber(digits) or HUGE)
    end
    if size > C_STEPS then
      refuse("string.pack: a format of about " .. steps(size) .. " bytes (limit " .. steps(C_STEPS) .. ")")
    end
  end
  return s_pack(fmt, ...)
end

local ELEMENT_STEPS = 4 -- a C loop step over table elements costs about four matcher steps

local function check_elements(fname, first, last)
  local a, b = tonumber(first), tonumber(last)
  if a and b and b >= a and (b - a + 1) * ELEMENT_STEPS > C_STEPS then
    refuse(fname .. ": " .. steps(b - a + 1) .. " elements in one call (limit "
      .. steps(C_STEPS / ELEMENT_STEPS) .. ")")
  end
end

local function safe_concat(t, sep, i, j)
  if type(t) == "table" then
    if j == nil then
      j = #t
    end
    check_elements("table.concat", i or 1, j)
  end
  return t_concat(t, sep, i, j)
end

local function safe_move(a1, f, e, t, a2)
  check_elements("table.move", f, e)
  return t_move(a1, f, e, t, a2)
end

local function refuse_len(fname, t)
  if type(t) == "table" and has_len_metamethod(t) then
    error(fname .. ": tables with a '__len' metamethod are not supported in plugins", 3)
  end
end

-- Inserting or removing at a position moves every element after it.
local function safe_insert(t, ...)
  refuse_len("table.insert", t)
  if select("#", ...) >= 2 and type(t) == "table" then
    check_elements("table.insert", (...), #t)
  end
  return t_insert(t, ...)
end

local function safe_remove(t, ...)
  refuse_len("table.remove", t)
  if select("#", ...) >= 1 and type(t) == "table" then
    check_elements("table.remove", (...), #t)
  end
  return t_remove(t, ...)
end

local function safe_unpack(t, i, j)
  if type(t) == "table" then
    check_elements("table.unpack", i or 1, j or rawlen(t))
  end
  return t_unpack(t, i, j)
end

local function safe_sort(t, comp)
  refuse_len("table.sort", t)
  -- A Lua comparator runs hooked; without one (or with a C function) the sort is one C call.
  if type(t) == "table"
      and (type(comp) ~= "function" or debug_getinfo(comp, "S").what == "C") then
    local n = #t
    if n > 1 and n * math_log(n, 2) * ELEMENT_STEPS > C_STEPS then
      refuse("table.sort: " .. n .. " elements without a Lua comparator (limit about "
        .. steps(C_STEPS / ELEMENT_STEPS / math_log(C_STEPS, 2)) .. ")")
    end
  end
  return t_sort(t, comp)
end

-- Compiling ----------------------------------------------------------------------------------

-- The parser runs in C, and some shapes of code (long elseif chains, long and/or chains, many
-- labels) compile in time that grows with the square of their length. It reads the source in
-- small pieces through a Lua function that lets the hook look at the clock when it is
-- overdue, so a slow compile stops at the CPU budget like Lua code does. Pending gotos and
-- breaks are resolved in one stretch when their block closes, at a cost that grows with the
-- square of their count: a chunk with more than MAX_JUMPS is refused before compiling.
local COMPILE_PIECE = 1024

local function occurrences(source, word)
  local count, at = 0, 1
  while true do
    at = s_find(source, word, at, true)
    if at == nil then
      return count
    end
    count, at = count + 1, at + #word
  end
end

local function compile(source, chunkname, chunk_env)
  local jumps = occurrences(source, "goto") + occurrences(source, "break")
  if jumps > MAX_JUMPS then
    refuse("load: " .. jumps .. " goto and break statements in " .. (s_gsub(chunkname, "^[@=]", ""))
      .. " are too many to compile in one C call (limit " .. MAX_JUMPS .. ")")
  end
  local at = 1
  return load(function()
    check_if_overdue()
    local piece = s_sub(source, at, at + COMPILE_PIECE - 1)
    at = at + COMPILE_PIECE
    return piece
  end, chunkname, "t", chunk_env)
end

---------------------------------------------------------------------------------------------
-- The plugin environment

local env = {}

local function safe_load(chunk, chunkname, mode, ...)
  if type(chunk) == "function" then
    local parts, size = {}, 0
    while true do
      local piece = chunk()
      if piece == nil or piece == "" then
        break
      end
      if type(piece) ~= "string" then
        error("load: reader function must return a string", 2)
      end
      size = size + #piece
      if size > SOURCE_BYTES then
        return nil, "chunk too large (limit " .. SOURCE_BYTES .. " bytes)"
      end
      parts[#parts + 1] = piece
    end
    chunk = t_concat(parts)
  elseif type(chunk) ~= "string" then
    error("bad argument #1 to 'load' (string expected, got " .. type(chunk) .. ")", 2)
  end
  if #chunk > SOURCE_BYTES then
    return nil, "chunk too large (" .. #chunk .. " bytes, limit " .. SOURCE_BYTES .. ")"
  end
  if mode ~= nil and not s_find(tostring(mode), "t", 1, true) then
    return nil, "attempt to load a text chunk (mode is '" .. tostring(mode) .. "')"
  end
  if chunkname ~= nil and type(chunkname) ~= "string" then
    chunkname = tostring(chunkname)
  end
  -- Text only. A custom environment is allowed (it only holds what the plugin put there);
  -- without one the chunk gets the plugin's environment, never the real globals.
  if select("#", ...) > 0 then
    return compile(chunk, chunkname or "=(load)", (...))
  end
  return compile(chunk, chunkname or "=(load)", env)
end

local loaded, loading = {}, {}
local library_env -- the environment of qtui's library modules, made below

local function safe_require(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
  end
  local value = loaded[name]
  if value ~= nil then
    return value
  end
  if loading[name] then
    error("module '" .. name .. "': loop or previous error while loading", 2)
  end
  local found, box = resolve(name)
  if not found then
    error(box and box[1] or "cannot load module '" .. name .. "'", 2)
  end
  local source, chunkname, library = box[1], box[2], box[3]
  local chunk, message = compile(source, "@" .. chunkname, library and library_env or env)
  if chunk == nil then
    error("error loading module '" .. name .. "':\n\t" .. message, 2)
  end
  loading[name] = true
  value = chunk(name, chunkname)
  loading[name] = nil
  if value == nil then
    value = true
  elseif library and type(value) == "table" then
    value = freeze(value, name)
  end
  loaded[name] = value
  return value, chunkname
end

local function safe_print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  local line = t_concat(parts, "\t")
  if #line > OUTPUT_BYTES then
    line = s_sub(line, 1, OUTPUT_BYTES)
  end
  output(line)
end

local function safe_collectgarbage(option)
  if option == "count" then
    return collectgarbage("count")
  end
  error("collectgarbage: only \"count\" is available to plugins", 2)
end

local function copy(source, names)
  local result = {}
  for _, name in ipairs(names) do
    result[name] = source[name]
  end
  return result
end

for _, name in ipairs({ "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
  "rawequal", "rawlen", "select", "tonumber", "tostring", "type", "_VERSION" }) do
  env[name] = G[name]
end
env.xpcall = safe_xpcall
env.setmetatable = safe_setmetatable
env.rawget = safe_rawget
env.rawset = safe_rawset
env.load = safe_load
env.require = safe_require
env.print = safe_print
env.collectgarbage = safe_collectgarbage
env._G = env

local string_lib = copy(string, { "byte", "char", "format", "len", "lower", "packsize",
  "reverse", "sub", "unpack", "upper" })
string_lib.find, string_lib.match, string_lib.gmatch, string_lib.gsub =
  safe_find, safe_match, safe_gmatch, safe_gsub
string_lib.rep, string_lib.pack = safe_rep, safe_pack
env.string = freeze(string_lib, "string")

local table_lib = copy(table, { "pack" })
table_lib.unpack = safe_unpack
table_lib.concat, table_lib.insert, table_lib.move, table_lib.remove, table_lib.sort =
  safe_concat, safe_insert, safe_move, safe_remove, safe_sort
env.table = freeze(table_lib, "table")

local coroutine_lib = copy(coroutine, { "close", "isyieldable", "resume", "running", "status",
  "yield" })
coroutine_lib.create, coroutine_lib.wrap = safe_cocreate, safe_cowrap
env.coroutine = freeze(coroutine_lib, "coroutine")

env.math = freeze(copy(math, { "abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge",
  "log", "max", "maxinteger", "min", "mininteger", "modf", "pi", "rad", "random", "randomseed",
  "sin", "sqrt", "tan", "tointeger", "type", "ult" }), "math")
env.utf8 = freeze(copy(utf8, { "char", "charpattern", "codepoint", "codes", "len", "offset" }),
  "utf8")
-- Now is the host's clock (which tests can hold still), not the machine's.
local function host_now()
  return math_floor(host_time())
end

env.os = freeze({
  clock = function()
    return host_clock()
  end,
  date = function(format, t)
    if t == nil then
      t = host_now()
    end
    return os_date(format, t)
  end,
  difftime = os_difftime,
  time = function(t)
    if t == nil then
      return host_now()
    end
    return os_time(t)
  end,
}, "os")

-- Method calls on strings use the guarded library; getmetatable("") shows a read-only view.
raw_setmetatable("", {
  __index = string_lib,
  __metatable = freeze({ __index = env.string }, "string metatable"),
})

-- qtui's library modules run in a read-only copy of the environment as built here, so what a
-- plugin does to its own globals never reaches the library's code.
do
  local globals = {}
  for name, value in next, env do
    globals[name] = value
  end
  globals._G = nil
  library_env = freeze(globals, "the qtui library's environment")
end

---------------------------------------------------------------------------------------------
-- Plain data for the host, as JSON text: the host never walks a plugin's table itself. The
-- walk is raw (no metamethod runs), runs under the plugin's limits and stops at the first
-- bound it passes, so refusing a huge value costs no more than the bound.

-- Empty tables that came from Python lists carry this marker so they convert back to lists.
local EMPTY_LIST_MT = { __metatable = false }

-- JSON's null where Lua needs a value (an item of a list): qtui.json.null, read-only. It goes
-- to the host as null.
local NULL = setmetatable({}, {
  __tostring = function()
    return "null"
  end,
  __newindex = function()
    error("qtui.json.null is read-only", 2)
  end,
  __metatable = false,
})

-- A table with a key that is not a string: {"\ud800": [key, value, ...]}. No Lua string
-- decodes to a lone surrogate, so the marker cannot clash with a plugin's own key.
local INTEGER_KEYS = '{"\\ud800":['
local JSON_ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\" }
for code = 0, 31 do
  JSON_ESCAPES[s_char(code)] = s_format("\\u%04x", code)
end

local function json_string(s)
  if s_find(s, '[%c"\\]') then
    s = s_gsub(s, '[%c"\\]', JSON_ESCAPES)
  end
  return '"' .. s .. '"'
end

local function json_number(v)
  if math_type(v) == "integer" then
    return s_format("%d", v)
  elseif v ~= v then
    return "NaN"
  elseif v == HUGE then
    return "Infinity"
  elseif v == -HUGE then
    return "-Infinity"
  end
  local text = s_format("%.17g", v)
  if not s_find(text, "[.e]") then
    text = text .. ".0" -- stays a float on the host
  end
  return text
end

local function key_text(k)
  if type(k) == "string" then
    return "['" .. k .. "']"
  end
  return "[" .. tostring(k) .. "]"
end

local SHOWN_TYPES = { ["function"] = "function or coroutine", thread = "function or coroutine" }

-- The writer's state, reset for each value or argument list (writing never runs plugin code
-- and never yields, so one writer at a time is all there is).
local out, n, items, bytes
local problem, problem_path, over_limit

local function fail(message, limit)
  problem, problem_path, over_limit = message, "", limit
  return false
end

local function put(s)
  n = n + 1
  out[n] = s
end

local function write_text(s)
  bytes = bytes - #s
  if bytes < 0 then
    return fail("more than " .. MAX_BYTES .. " bytes of text in all", true)
  end
  n = n + 1
  out[n] = json_string(s)
  return true
end

local function write_key(k)
  local kind = type(k)
  if kind == "string" then
    if utf8_len(k) == nil then
      return fail("table key is not valid UTF-8")
    end
    return write_text(k)
  elseif math_type(k) == "integer" then
    put(s_format("%d", k))
    return true
  end
  local shown = (kind == "number" or kind == "boolean") and tostring(k) or ("a " .. kind)
  return fail("table key " .. shown .. " is not a string or integer")
end

local write

local function write_entry(k, v, depth)
  if write(v, depth) then
    return true
  end
  problem_path = key_text(k) .. problem_path
  return false
end

local function write_table(t, depth)
  if depth >= MAX_DEPTH then
    return fail("tables nested deeper than " .. MAX_DEPTH .. " levels (a cycle?)", true)
  end
  local count, string_keys = 0, true
  for k in next, t do
    count = count + 1
    if count > items then
      return fail("more than " .. MAX_ITEMS .. " table entries in all", true)
    end
    if string_keys and type(k) ~= "string" then
      string_keys = false
    end
  end
  items = items - count
  if count == 0 then
    put(t == NULL and "null" or raw_getmetatable(t) == EMPTY_LIST_MT and "[]" or "{}")
    return true
  end
  local sequence = not string_keys
  if sequence then
    for i = 1, count do
      if rawget(t, i) == nil then
        sequence = false
        break
      end
    end
  end
  if sequence then
    put("[")
    for i = 1, count do
      if i > 1 then
        put(",")
      end
      if not write_entry(i, rawget(t, i), depth + 1) then
        return false
      end
    end
    put("]")
    return true
  end
  put(string_keys and "{" or INTEGER_KEYS)
  local first = true
  for k, v in next, t do
    if not first then
      put(",")
    end
    first = false
    if not write_key(k) then
      problem_path = key_text(k) .. problem_path
      return false
    end
    put(string_keys and ":" or ",")
    if not write_entry(k, v, depth + 1) then
      return false
    end
  end
  put(string_keys and "}" or "]}")
  return true
end

write = function(v, depth)
  local kind = type(v)
  if kind == "string" then
    return write_text(v)
  elseif kind == "number" then
    put(json_number(v))
  elseif kind == "boolean" then
    put(v and "true" or "false")
  elseif kind == "nil" then
    put("null")
  elseif kind == "table" then
    return write_table(v, depth)
  else
    return fail("a Lua " .. (SHOWN_TYPES[kind] or kind) .. " cannot be passed to the host")
  end
  return true
end

local function start_writing()
  out, n, items, bytes = {}, 0, MAX_ITEMS, MAX_BYTES
end

local function written()
  local text = t_concat(out, "", 1, n)
  out = nil
  return text
end

-- The problem of the last write: "[path]: problem", and whether it is a bound passed.
local function write_problem()
  out = nil
  return problem_path .. (problem_path == "" and "" or ": ") .. problem, over_limit
end

-- One value as JSON, or nil, the problem and whether it is a bound passed.
local function to_host(value)
  start_writing()
  if not write(value, 0) then
    return nil, write_problem()
  end
  return written()
end

-- The arguments of one host call as a JSON array (one budget for all), or nil, the position
-- of the argument at fault, its problem and whether it is a bound passed.
local function arguments_to_host(...)
  start_writing()
  put("[")
  for i = 1, select("#", ...) do
    if i > 1 then
      put(",")
    end
    if not write((select(i, ...)), 0) then
      return nil, i, write_problem()
    end
  end
  put("]")
  return written()
end

---------------------------------------------------------------------------------------------
-- Host functions and operations for the Python side

local api = {}
local RETURNED, BOXED = 1, 2

-- The plugin's functions the host calls, by id (the host registers each path once).
local callables = {}

function api.register(segments)
  callables[#callables + 1] = segments
  return #callables
end

-- The value at a registered path of the environment (raw lookups: no plugin code runs).
local function find(id)
  local segments = callables[id]
  local value = env
  for i = 1, #segments do
    if type(value) ~= "table" then
      return nil
    end
    value = safe_rawget(value, segments[i])
  end
  return value
end

function api.defined(id)
  return type(find(id)) == "function"
end

-- Call registered function `id` with the arguments in `args` (a table the host built, with
-- `n`); its first result goes back as JSON text, or nil, the problem and whether it is a
-- limit.
function api.call(id, args)
  return to_host((find(id)(t_unpack(args, 1, args.n))))
end

-- Compile the host's chunk {source, chunkname} in the plugin's environment and run it.
function api.run(box)
  local chunk, message = compile(box[1], "@" .. box[2], env)
  if chunk == nil then
    return false, message
  end
  chunk()
  return true
end

-- The table holding the last name of a dotted path, made of read-only namespaces (or nil and
-- why not). A namespace at the top (`qtui`) is also a global of qtui's library modules.
local function namespace_of(segments)
  local target = env
  for i = 1, #segments - 1 do
    local name = segments[i]
    local namespace = rawget(target, name)
    if namespace == nil then
      namespace = freeze({}, t_concat(segments, ".", 1, i))
      rawset(target, name, namespace)
      if i == 1 then
        rawset(frozen[library_env], name, namespace)
      end
    elseif not frozen[namespace] then
      return nil, t_concat(segments, ".", 1, i) .. " is already used by the plugin"
    end
    target = frozen[namespace]
  end
  return target
end

-- Whether the arguments are all strings, numbers, booleans and nils, with at most MAX_BYTES of
-- text: those go to the host as they are (reading them allocates nothing in Lua).
local function scalar_arguments(...)
  local bytes = MAX_BYTES
  for i = 1, select("#", ...) do
    local value = (select(i, ...))
    local kind = type(value)
    if kind == "string" then
      bytes = bytes - #value
      if bytes < 0 then
        return false
      end
    elseif kind ~= "number" and kind ~= "boolean" and kind ~= "nil" then
      return false
    end
  end
  return true
end

-- Host function `id` as a Lua function, called through `through` (dispatch unless given). Its
-- arguments go to the host as they are when they are scalars, else as JSON, within the
-- bounds: a value over them is refused as a limit violation before the host sees anything.
local function host_function(path, id, through)
  local dispatch = through or dispatch
  local function answer(status, value)
    if status == RETURNED then
      return value -- nil too: `tostring(qtui.storage.get("missing"))` must see a value
    elseif status == BOXED then
      return value[1]
    end
    error(value and value[1] or path .. ": internal error", 2) -- answer is a tail call: 2 is the caller
  end
  return function(...)
    if scalar_arguments(...) then
      return answer(dispatch(id, false, ...))
    end
    local arguments, position, message, limit = arguments_to_host(...)
    if arguments == nil then
      message = path .. ": bad argument #" .. position .. ": " .. message
      if limit then
        refuse(message, "value")
      end
      error(message, 2)
    end
    return answer(dispatch(id, arguments))
  end
end

-- Make host function `id` visible at a dotted path; namespaces are read-only tables.
function api.expose(segments, id)
  local target, problem = namespace_of(segments)
  if target == nil then
    return false, problem
  end
  target[segments[#segments]] = host_function(t_concat(segments, "."), id)
  return true
end

-- Host function `id` for qtui's library modules only: the global `native.NAME` of their
-- environment (plugin code never sees it).
local library_natives = {}
rawset(frozen[library_env], "native", freeze(library_natives, "native"))

function api.expose_native(name, path, id)
  library_natives[name] = host_function(path, id, host.compute)
end

-- Make the value in `box` (a table the host built) visible at a dotted path (a constant of
-- the API, e.g. qtui.json.null).
function api.define(segments, box)
  local target, problem = namespace_of(segments)
  if target == nil then
    return false, problem
  end
  target[segments[#segments]] = box[1]
  return true
end

function api.empty_list()
  return setmetatable({}, EMPTY_LIST_MT)
end

api.null = NULL
frozen[NULL] = {}
library_natives.null = NULL

do -- (a block: the main chunk has room for 200 locals)
  -- Events (qtui/plugins/runtime/prepared.py): `kind` 1 is bytecode of a stats event, 2 Lua
  -- source of another event, both made by the host and materialised here in C; 3 a table the
  -- value converter made. `box[1]` holds the chunk or the table. A stats event gets `changed`
  -- on the rows whose indices are the next `changed_count` items of `box`, and `removed` (the
  -- names that follow). Then the plugin's on_event, if it defines one, gets the event.
  local EVENT_BYTECODE, EVENT_SOURCE = 1, 2
  local EVENT_CHUNK = "=[qtui event]"
  local NO_GLOBALS = {}
  local SOURCE_GLOBALS = { L = api.empty_list, N = NULL } -- what event source may use

  local function mark_changes(event, changed_count, box)
    local queues = event.queues
    local last = changed_count + 1
    for i = 2, last do
      queues[box[i]].changed = true
    end
    local removed = {}
    for i = last + 1, #box do
      removed[i - last] = box[i]
    end
    event.removed = removed
  end

  function api.deliver(kind, box, changed_count)
    local handler = rawget(env, "on_event")
    if type(handler) ~= "function" then
      return
    end
    local event = box[1]
    if kind == EVENT_BYTECODE or kind == EVENT_SOURCE then
      -- The host's chunk runs without the count hook, which would put the VM in its slower
      -- trap mode: its work is the host's, in proportion to the event's size (checked before
      -- it got here), and the call's CPU time still counts it.
      debug_sethook()
      local chunk, problem = load(event, EVENT_CHUNK, kind == EVENT_BYTECODE and "b" or "t",
        kind == EVENT_BYTECODE and NO_GLOBALS or SOURCE_GLOBALS)
      if chunk == nil then
        error(problem, 0)
      end
      event = chunk()
      if kind == EVENT_BYTECODE then
        mark_changes(event, changed_count, box)
      end
      debug_sethook(hook, "", interval)
    end
    handler(event) -- its results stay here: the host wants none
  end

  -- Every call of the host's into plugin code: count from zero, call `f`, and return the
  -- instructions it ran (to a step) before its results.
  local function with_used(...)
    return used, ...
  end

  function api.counted(f, ...)
    used, steps_to_check, memory_check_kib, tripped, last_tick = 0, CHECK_STEPS, MEMORY_CHECK_KIB, nil, nil
    interval = STEP
    debug_sethook(hook, "", STEP) -- a full step to the first hook (and a trip's hook undone)
    return with_used(f(...))
  end

  -- Instructions the last call ran (to a step), after it failed.
  function api.used()
    return used
  end
end

-- lupa's message handler for errors that reach Python. Like debug.traceback, but it looks
-- at the innermost frames only: debug.traceback first finds the bottom of the stack, one
-- O(depth) walk per probe, which takes a long time after a deep recursion.
local TRACEBACK_FRAMES = 12

local function frame_text(info)
  if info.what == "C" then
    return "[C]: in " .. (info.name and ("function '" .. info.name .. "'") or "?")
  end
  local where = info.short_src .. ":" .. info.currentline .. ": in "
  if info.what == "main" then
    return where .. "main chunk"
  end
  if info.name then
    return where .. "function '" .. info.name .. "'"
  end
  return where .. "function <" .. info.short_src .. ":" .. info.linedefined .. ">"
end

local function message_handler(message)
  if type(message) ~= "string" then
    return message
  end
  local lines = { message, "stack traceback:" }
  for level = 2, TRACEBACK_FRAMES + 1 do
    local info = debug_getinfo(level, "Sln")
    if info == nil then
      break
    end
    lines[#lines + 1] = "\t" .. frame_text(info)
  end
  return t_concat(lines, "\n")
end

-- Empty the real globals: only lupa's error message handler stays.
for name in next, G do
  G[name] = nil
end
G.debug = { traceback = message_handler }

-- Generational collection: most of what a plugin allocates is an event's tables, garbage by
-- the next event. The incremental collector traversed the whole heap (this prelude's own
-- tables and closures too) every few events, which made an event cost twice as much with
-- twenty plugins, their heaps evicting each other from the CPU's caches. A young collection
-- visits the young objects only. (Lua 5.4.8; the memory cap's full collections are the same.)
collectgarbage("generational")
debug_sethook(hook, "", interval)

return api
