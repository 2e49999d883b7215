-- bulk-requeue: pick dead jobs by queue, error text or tenant, preview them, and requeue
-- exactly the previewed ones in one confirmed, atomic request. See README.md.

local text = require("qtui.text")

local fit, columns = text.fit, text.columns -- one-column text is laid out in Lua, without a host call

-- Dead jobs per request.
local PAGE_SIZE = 50
local LIST_ROWS = 8
local KEPT_TEXT = 200 -- bytes of a match's tenant and error kept for the list
local MAX_ARGS = 1000
local FILTER_KEYS = { queue = true, error = true, tenant = true, to = true }

local width = 78        -- the panel's columns, from resize events
local config = {}
local filter = {}      -- queue=, error=, tenant=, to= (strings, or nil for "any")
local state = "idle"   -- idle, previewing, previewed, requeueing
local preview          -- {matches=, scanned=, unreadable=, cursor=, request=, stop=}
local requeue          -- {request=, count=, to=}
local outcome          -- the last result or problem: {text=, style=}
local scroll = 0

-- Settings and the filter -------------------------------------------------------------------

local function whole(value, default, low, high)
  if type(value) ~= "number" or value ~= value then
    return default
  end
  return math.max(low, math.min(high, math.floor(value)))
end

local function configure(settings)
  settings = type(settings) == "table" and settings or {}
  config = {
    tenant_field = type(settings.tenant_field) == "string" and settings.tenant_field ~= ""
      and settings.tenant_field or "tenant",
    max_jobs = whole(settings.max_jobs, 1000, 1, 10000),
    max_scanned = whole(settings.max_scanned, 20000, 50, 1000000),
  }
end

-- `key=value` pairs; a value may be quoted with " or '. Returns a table, or nil and why.
local function parse_args(args)
  if type(args) ~= "string" then
    return {}
  end
  if #args > MAX_ARGS then
    return nil, "arguments longer than " .. MAX_ARGS .. " characters"
  end
  local found, i = {}, 1
  while true do
    i = args:find("%S", i)
    if i == nil then
      return found
    end
    local key, after = args:match("^([%a_]+)=()", i)
    if key == nil then
      return nil, "expected key=value at '" .. args:sub(i, i + 19) .. "'"
    end
    if not FILTER_KEYS[key] then
      return nil, "unknown key '" .. key .. "' (use queue=, error=, tenant= or to=)"
    end
    if found[key] ~= nil then
      return nil, key .. "= given twice"
    end
    local quote, value = args:sub(after, after), nil
    if quote == '"' or quote == "'" then
      local close = args:find(quote, after + 1, true)
      if close == nil then
        return nil, "missing closing " .. quote .. " after " .. key .. "="
      end
      value, i = args:sub(after + 1, close - 1), close + 1
    else
      local space = args:find("%s", after) or #args + 1
      value, i = args:sub(after, space - 1), space
    end
    if value == "" then
      return nil, key .. "= needs a value"
    end
    found[key] = value
  end
end

local function describe_filter()
  local parts = {}
  for _, key in ipairs({ "queue", "error", "tenant" }) do
    if filter[key] then
      local value = filter[key]
      parts[#parts + 1] = key .. "=" .. (value:find("%s") and string.format("%q", value) or value)
    end
  end
  local where = #parts > 0 and table.concat(parts, " ") or "every dead job"
  return where .. " → " .. (filter.to and filter.to or "their own queues")
end

-- Previewing --------------------------------------------------------------------------------

-- The text the backend narrows the pages with: it keeps jobs whose payload or error contains
-- it, a superset of what matches. A tenant is only used when made of characters no JSON
-- encoder escapes, so that every payload naming it contains it verbatim.
local function narrowing()
  if filter.error then
    return filter.error
  end
  if filter.tenant and filter.tenant:match("^[%w_.:@ -]+$") then
    return filter.tenant
  end
  return nil
end

-- The tenant field of a payload as text (nil when it has none), and whether the payload could
-- be read: it is JSON, parsed by the host (a payload cut at 64 KiB is not).
local function tenant_of(payload)
  local ok, doc = pcall(qtui.json.decode, payload)
  if not ok then
    return nil, false
  end
  for key in config.tenant_field:gmatch("[^.]+") do
    if type(doc) ~= "table" then
      return nil, true
    end
    doc = doc[key]
  end
  local kind = type(doc)
  if kind == "string" then
    return doc, true
  elseif kind == "number" or kind == "boolean" then
    return tostring(doc), true
  end
  return nil, true
end

-- Whether `job` matches the filter exactly, and its tenant (nil when unknown).
local function matches(job)
  if filter.queue and job.queue ~= filter.queue then
    return false
  end
  if filter.error then
    local err = type(job.last_error) == "string" and job.last_error or ""
    if not err:lower():find(filter.error:lower(), 1, true) then
      return false
    end
  end
  local tenant, readable = tenant_of(job.payload)
  if filter.tenant then
    if not readable then
      preview.unreadable = preview.unreadable + 1
    end
    return tenant == filter.tenant, tenant
  end
  return true, tenant
end

local function request_page()
  local ok, id = pcall(qtui.jobs.peek, {
    queue = filter.queue, state = "dead", text = narrowing(), cursor = preview.cursor, limit = PAGE_SIZE,
  })
  if not ok then
    state, preview = "idle", nil
    outcome = { text = "cannot preview: " .. text.message(id), style = "error" }
    return
  end
  preview.request = id
end

local function start_preview()
  if state == "requeueing" then
    outcome = { text = "a requeue is waiting for its result; preview after it", style = "warn" }
    return
  end
  state, scroll, outcome = "previewing", 0, nil
  preview = { matches = {}, scanned = 0, unreadable = 0 }
  request_page()
end

local function take_page(event)
  if not event.ok then
    state, preview = "idle", nil
    outcome = { text = "preview failed: " .. tostring(event.error), style = "error" }
    return
  end
  local result = type(event.result) == "table" and event.result or {}
  local jobs = type(result.jobs) == "table" and result.jobs or {}
  for _, job in ipairs(jobs) do
    if type(job) == "table" and type(job.id) == "string" and type(job.queue) == "string" then
      preview.scanned = preview.scanned + 1
      local hit, tenant = matches(job)
      if hit then
        -- Only what the list shows is kept (up to max_jobs matches stay in memory).
        preview.matches[#preview.matches + 1] = {
          id = job.id, queue = job.queue, tenant = tenant and tenant:sub(1, KEPT_TEXT),
          error = type(job.last_error) == "string" and job.last_error:sub(1, KEPT_TEXT) or "",
          died = type(job.finished_at) == "number" and job.finished_at or nil,
        }
        if #preview.matches >= config.max_jobs then
          preview.stop = "max_jobs"
          break
        end
      end
    end
  end
  local cursor = type(result.next_cursor) == "string" and result.next_cursor or nil
  if preview.stop == nil and cursor and preview.scanned >= config.max_scanned then
    preview.stop = "max_scanned"
  end
  if preview.stop == nil and cursor then
    preview.cursor = cursor
    request_page()
  else
    state, outcome = "previewed", nil
  end
end

local function cancel()
  if state == "requeueing" then
    outcome = { text = "the requeue was already sent; its result will show here", style = "warn" }
    return
  end
  state, preview, scroll = "idle", nil, 0
  outcome = { text = "cleared", style = "dim" }
end

-- Requeueing --------------------------------------------------------------------------------

local function run(to)
  if state == "requeueing" then
    outcome = { text = "a requeue is already waiting for its result", style = "warn" }
    return
  end
  if state == "previewing" then
    outcome = { text = "the preview is still reading; requeue when it is done", style = "warn" }
    return
  end
  if state ~= "previewed" then
    outcome = { text = "preview first: p or :bulk-requeue.preview", style = "warn" }
    return
  end
  if #preview.matches == 0 then
    outcome = { text = "nothing to requeue: no dead job matches", style = "warn" }
    return
  end
  local ids = {}
  for n, job in ipairs(preview.matches) do
    ids[n] = job.id
  end
  local target = to or filter.to
  local ok, id = pcall(qtui.jobs.requeue, { ids = ids, to = target })
  if not ok then
    outcome = { text = "cannot requeue: " .. text.message(id), style = "error" }
    return
  end
  state = "requeueing"
  requeue = { request = id, count = #ids, to = target }
  outcome = nil
end

local function take_requeue(event)
  local sent = requeue
  state, requeue = "idle", nil
  if not event.ok then
    state = "previewed" -- nothing moved: the same preview can be run again
    outcome = { text = "requeue failed, nothing moved: " .. tostring(event.error), style = "error" }
    return
  end
  local moved = type(event.result) == "table" and type(event.result.count) == "number" and event.result.count or 0
  local where = sent.to and (" to " .. sent.to) or " to their own queues"
  local note = ""
  if moved < sent.count then
    note = string.format(" (%d no longer dead)", sent.count - moved)
  end
  outcome = { text = string.format("requeued %d of %s%s%s", moved, text.count(sent.count, "previewed job"), where,
                                   note),
              style = moved == sent.count and "ok" or "warn" }
  preview, scroll = nil, 0
end

-- Rendering ---------------------------------------------------------------------------------

local function span(s, style)
  return { text = s, style = style }
end

local function line(s, style)
  return { span(fit(s, width), style) }
end

local function ago(t)
  if type(t) ~= "number" then
    return "-"
  end
  return text.duration(os.time() - t)
end

local function preview_lines(lines)
  local p = preview
  local count = #p.matches
  local summary
  if state == "previewing" then
    summary = string.format("previewing… %s read, %d match", text.count(p.scanned, "dead job"), count)
  elseif p.stop == "max_jobs" then
    summary = string.format("%d match (stopped at max_jobs; %s read)", count, text.count(p.scanned, "dead job"))
  elseif p.stop == "max_scanned" then
    summary = string.format("%d match among the first %s (max_scanned)", count, text.count(p.scanned, "dead job"))
  else
    summary = string.format("%s (%s read, none left)", count == 1 and "1 dead job matches"
      or string.format("%d dead jobs match", count), text.count(p.scanned, "candidate"))
  end
  lines[#lines + 1] = line(summary, state == "previewing" and "accent" or "bold")
  if p.unreadable > 0 then
    lines[#lines + 1] = line(text.count(p.unreadable, "payload") .. " could not be read for the tenant and "
      .. (p.unreadable == 1 and "was" or "were") .. " left out", "warn")
  end
  if count == 0 then
    return
  end
  -- ID, QUEUE, TENANT, DIED, ERROR; a narrow panel leaves out the tenant, the error takes the rest.
  local wide = width >= 64
  local layout = wide and { 11, 13, 13, -6, 0 } or { 11, 10, -6, 0 }
  lines[#lines + 1] = columns(wide and { "ID", "QUEUE", "TENANT", "DIED", "ERROR" } or { "ID", "QUEUE", "DIED", "ERROR" },
    layout, width, "bold")
  scroll = math.max(0, math.min(scroll, count - LIST_ROWS))
  for n = scroll + 1, math.min(count, scroll + LIST_ROWS) do
    local job = p.matches[n]
    local cells = { job.id, job.queue, ago(job.died), { text = job.error, style = "dim" } }
    if wide then
      table.insert(cells, 3, job.tenant or "-")
    end
    lines[#lines + 1] = columns(cells, layout, width)
  end
  if count > LIST_ROWS then
    lines[#lines + 1] = line(string.format("rows %d-%d of %d (↑↓ to scroll)", scroll + 1,
      math.min(count, scroll + LIST_ROWS), count), "dim")
  end
end

-- What matters most comes first: a panel is often only a few rows high.
local function render()
  local lines = { line("filter: " .. describe_filter(), "title") }
  if state == "requeueing" then
    lines[#lines + 1] = line(string.format("requeueing %s to %s; waiting for confirmation and the result…",
      text.count(requeue.count, "job"), requeue.to or "their own queues"), "accent")
  end
  if outcome then
    for _, part in ipairs(text.wrap(outcome.text, width, 3)) do
      lines[#lines + 1] = { span(part, outcome.style) }
    end
  end
  if preview then
    preview_lines(lines)
  elseif state == "idle" and outcome == nil then
    lines[#lines + 1] = line(":bulk-requeue.filter queue=Q error=TEXT tenant=T to=Q, then p", "dim")
  end
  local keys = "p preview · c clear"
  if state == "previewed" and #preview.matches > 0 then
    keys = string.format("r requeue these %d · ", #preview.matches) .. keys
  end
  lines[#lines + 1] = line(keys .. " · :bulk-requeue.run to=QUEUE", "dim")
  qtui.render(lines)
end

-- Events ------------------------------------------------------------------------------------

local function set_filter(args)
  local parsed, problem = parse_args(args)
  if parsed == nil then
    outcome = { text = "filter: " .. problem, style = "error" }
    return
  end
  if state == "requeueing" then
    outcome = { text = "a requeue is waiting for its result; change the filter after it", style = "warn" }
    return
  end
  filter = parsed
  start_preview()
end

local function command(name, args)
  if name == "filter" then
    set_filter(args)
  elseif name == "preview" then
    start_preview()
  elseif name == "run" then
    local parsed, problem = parse_args(args)
    if parsed and (parsed.queue or parsed.error or parsed.tenant) then
      problem = "only to=QUEUE goes with run; the filter is set with :bulk-requeue.filter"
    end
    if problem then
      outcome = { text = "run: " .. problem, style = "error" }
      return
    end
    run(parsed.to)
  elseif name == "cancel" then
    cancel()
  end
end

local KEYS = {
  p = start_preview, r = function() run(nil) end, c = cancel, esc = cancel,
  up = function() scroll = scroll - 1 end, k = function() scroll = scroll - 1 end,
  down = function() scroll = scroll + 1 end, j = function() scroll = scroll + 1 end,
  ["page up"] = function() scroll = scroll - LIST_ROWS end,
  ["page down"] = function() scroll = scroll + LIST_ROWS end,
  home = function() scroll = 0 end,
  ["end"] = function() scroll = math.huge end,
}

function activate(ctx)
  configure(ctx.settings)
  qtui.subscribe("key")
  qtui.command("filter", "pick dead jobs: queue=Q error=TEXT tenant=T to=Q, and preview them")
  qtui.command("preview", "read the dead jobs matching the filter again")
  qtui.command("run", "requeue the previewed jobs (to=QUEUE to move them)")
  qtui.command("cancel", "stop the preview or clear it")
  local kept = type(ctx.state) == "table" and ctx.state.filter
  if type(kept) == "table" then
    for key in pairs(FILTER_KEYS) do
      filter[key] = type(kept[key]) == "string" and kept[key] ~= "" and kept[key] or nil
    end
  end
  render()
end

function on_event(event)
  if event.type == "resize" then
    width = event.width -- the same width gives the same lines, which the console does not redraw
  elseif event.type == "key" then
    local handler = KEYS[event.key]
    if handler == nil then
      return
    end
    handler()
  elseif event.type == "command" then
    command(event.name, event.args)
  elseif event.type == "action" then
    if preview and state == "previewing" and event.id == preview.request then
      take_page(event)
    elseif requeue and event.id == requeue.request then
      take_requeue(event)
    else
      return -- the reply to an abandoned preview
    end
  elseif event.type == "settings" then
    configure(event.settings)
  end
  render()
end

function deactivate()
  return { filter = filter }
end
