-- tenant-sla: per tenant, how long the oldest ready job has waited and how fast the tenant's
-- ready jobs are taken, against an SLA threshold. See README.md.
--
-- Stats events give per-queue counts and ages on every poll; tenants are only named inside
-- payloads, so every `refresh_seconds` the plugin reads the oldest ready jobs of each watched
-- queue (at most `pages_per_queue` pages) and groups them by the payload's tenant field.

local text = require("qtui.text")
local json = require("qtui.json")
local queues_lib = require("qtui.queues")

local WIDTH = 78
-- Ready jobs per request, and the payload reading work allowed per page (json.field's units):
-- together they keep one call well inside the default per-call limits.
local PAGE_SIZE = 50
local COST_PER_PAGE = 60000
-- Distinct tenants kept per reading, further tenants counted together; bytes of a name kept.
local MAX_TENANTS = 500
local MAX_NAME = 256
-- Job ids remembered between readings to measure how fast jobs are taken.
local MAX_REMEMBERED = 5000
local QUEUE_ROWS = 5

local NO_TENANT, UNREADABLE, OTHERS = "(no tenant)", "(unreadable)", "(others)"

local config = {}       -- settings, checked
local is_watched        -- whether a queue is watched, from the `queues` setting
local watching = 0      -- how many names that setting lists (0: every queue)
local queues = {}       -- latest stats rows of watched queues
local stats_at          -- taken_at of the latest stats
local reading           -- the reading of ready jobs in progress, or nil
local last              -- the latest complete reading
local refusal           -- why jobs.peek cannot be used (the host's words), or nil

-- Settings ----------------------------------------------------------------------------------

local function whole(value, default, low, high)
  if type(value) ~= "number" or value ~= value then
    return default
  end
  return math.max(low, math.min(high, math.floor(value)))
end

local function configure(settings)
  settings = type(settings) == "table" and settings or {}
  local threshold = settings.threshold_seconds
  local ratio = settings.warn_ratio
  config = {
    threshold = type(threshold) == "number" and threshold > 0 and threshold or 300,
    warn_ratio = type(ratio) == "number" and ratio > 0 and ratio <= 1 and ratio or 0.8,
    tenant_field = type(settings.tenant_field) == "string" and settings.tenant_field ~= ""
      and settings.tenant_field or "tenant",
    refresh = whole(settings.refresh_seconds, 30, 2, 3600),
    pages = whole(settings.pages_per_queue, 10, 1, 100),
    rows = whole(settings.rows, 10, 1, 100),
  }
  is_watched, watching = queues_lib.matcher(settings.queues)
  reading, last = nil, nil
end

-- Judging waits ---------------------------------------------------------------------------

-- "late", "warn" or "ok" for a wait in seconds; an unknown wait is "ok".
local function judge(wait)
  if type(wait) ~= "number" then
    return "ok"
  end
  if wait >= config.threshold then
    return "late"
  elseif wait >= config.threshold * config.warn_ratio then
    return "warn"
  end
  return "ok"
end

local STYLE = { late = "error", warn = "warn", ok = "ok", risk = "warn", stalled = "warn" }

-- Reading ready jobs --------------------------------------------------------------------------

local render -- defined below

local function request_page()
  local q = reading.queues[reading.index]
  local ok, id = pcall(qtui.jobs.peek, {
    queue = q.name, state = "ready", cursor = reading.cursor, limit = PAGE_SIZE,
  })
  if not ok then
    refusal = text.message(id)
    reading = nil
    return
  end
  reading.request = id
end

local function finish_reading()
  local done = reading
  reading = nil
  -- Jobs of the previous reading that are no longer ready were taken (or purged). Only jobs
  -- this reading would have seen count: those on queues read completely or not read because
  -- they had no ready jobs left, and on queues read partially those older than the newest
  -- job read. Rates are left unknown when either reading had too many jobs to remember.
  if last ~= nil and done.at > last.at and last.jobs <= MAX_REMEMBERED
      and done.jobs <= MAX_REMEMBERED then
    for id, seen in pairs(last.ids) do
      local cover = done.cover[seen.queue]
      local visible = cover == nil or cover == true or (type(cover) == "number" and seen.created < cover)
      local tenant = done.tenants[seen.tenant]
      if visible and tenant and not done.ids[id] then
        tenant.taken = tenant.taken + 1
      end
    end
    local minutes = (done.at - last.at) / 60
    for _, tenant in pairs(done.tenants) do
      tenant.rate = tenant.taken / minutes
      tenant.compared = last.tenants[tenant.name] ~= nil
    end
  end
  last = done
end

local function next_queue()
  reading.index = reading.index + 1
  reading.cursor, reading.pages = nil, 0
  if reading.index > #reading.queues then
    finish_reading()
  else
    request_page()
  end
end

local function start_reading()
  local list = {}
  for _, q in ipairs(queues) do
    if q.ready > 0 then
      list[#list + 1] = q
    end
  end
  table.sort(list, function(a, b) return (a.oldest or 0) > (b.oldest or 0) end)
  reading = {
    at = stats_at, queues = list, index = 0, pages = 0, cursor = nil,
    tenants = {}, count = 0, ids = {}, jobs = 0, unreadable = 0,
    -- per queue: true read completely, a creation time (read up to it), false failed
    cover = {}, partial = {}, errors = {},
  }
  next_queue()
end

local function tenant_row(name, created)
  local t = reading.tenants[name]
  if t == nil then
    if reading.count >= MAX_TENANTS and name ~= OTHERS then
      return tenant_row(OTHERS, created)
    end
    t = { name = name, ready = 0, taken = 0 }
    reading.tenants[name] = t
    reading.count = reading.count + 1
  end
  if type(created) == "number" and (t.oldest == nil or created < t.oldest) then
    t.oldest = created
  end
  t.ready = t.ready + 1
  return t
end

local function take_page(event)
  local q = reading.queues[reading.index]
  if not event.ok then
    reading.cover[q.name] = false
    reading.errors[#reading.errors + 1] = q.name .. ": " .. tostring(event.error)
    next_queue()
    return
  end
  local result = type(event.result) == "table" and event.result or {}
  local jobs = type(result.jobs) == "table" and result.jobs or {}
  local budget = json.budget(COST_PER_PAGE)
  local newest
  for _, job in ipairs(jobs) do
    if type(job) == "table" and type(job.id) == "string" then
      local tenant, complete = json.field(job.payload, config.tenant_field, budget)
      if tenant == nil then
        tenant = complete and NO_TENANT or UNREADABLE
        if not complete then
          reading.unreadable = reading.unreadable + 1
        end
      else
        tenant = tenant:sub(1, MAX_NAME) -- names are shown cut anyway; this bounds memory
      end
      local created = type(job.created_at) == "number" and job.created_at or nil
      local row = tenant_row(tenant, created)
      if reading.jobs < MAX_REMEMBERED then
        reading.ids[job.id] = { queue = q.name, created = created or 0, tenant = row.name }
      end
      reading.jobs = reading.jobs + 1
      newest = created or newest
    end
  end
  reading.pages = reading.pages + 1
  local cursor = type(result.next_cursor) == "string" and result.next_cursor or nil
  if cursor and reading.pages < config.pages then
    reading.cursor = cursor
    request_page()
    return
  end
  if cursor then
    reading.cover[q.name] = newest or 0
    reading.partial[#reading.partial + 1] = { queue = q.name, jobs = reading.pages * PAGE_SIZE,
                                              younger = newest and reading.at - newest }
  else
    reading.cover[q.name] = true
  end
  next_queue()
end

-- Rendering ---------------------------------------------------------------------------------

local function span(s, style)
  return { text = s, style = style }
end

-- A line of one style, fitted to the panel.
local function line(s, style)
  return { span(text.fit(s, WIDTH), style) }
end

local function queue_lines(lines)
  local rows = {}
  for _, q in ipairs(queues) do
    rows[#rows + 1] = q
  end
  table.sort(rows, function(a, b) return (a.oldest or -1) > (b.oldest or -1) end)
  lines[#lines + 1] = { span(text.left("QUEUE", 30) .. text.right("READY", 8) .. text.right("OLDEST", 10)
    .. text.right("DONE/MIN", 10) .. "  STATUS", "bold") }
  for n, q in ipairs(rows) do
    if n > QUEUE_ROWS then
      lines[#lines + 1] = line("… and " .. text.count(#rows - QUEUE_ROWS, "more queue"), "dim")
      break
    end
    local status = judge(q.oldest)
    lines[#lines + 1] = {
      text.left(q.name, 30) .. text.right(text.number(q.ready), 8)
        .. text.right(q.oldest and text.duration(q.oldest) or "-", 10)
        .. text.right(text.number(q.done), 10) .. "  ",
      span(status, STYLE[status]),
    }
  end
end

-- A tenant's status: late/warn by its oldest wait, else "risk" when its backlog would take
-- longer than the threshold to drain at the measured pace, "stalled" when nothing was taken.
local function tenant_status(t, wait)
  local status = judge(wait)
  if status ~= "ok" or t.rate == nil then
    return status
  end
  if t.rate == 0 then
    return t.compared and "stalled" or "ok"
  end
  if t.ready / t.rate * 60 > config.threshold then
    return "risk"
  end
  return "ok"
end

local function tenant_lines(lines)
  local reading_done = last
  lines[#lines + 1] = { span(text.left("TENANT", 28) .. text.right("READY", 8) .. text.right("OLDEST", 10)
    .. text.right("TAKEN/MIN", 11) .. text.right("DRAIN", 9) .. "  STATUS", "bold") }
  local rows = {}
  for _, t in pairs(reading_done.tenants) do
    t.wait = t.oldest and reading_done.at - t.oldest
    rows[#rows + 1] = t
  end
  table.sort(rows, function(a, b)
    if (a.wait or -1) ~= (b.wait or -1) then
      return (a.wait or -1) > (b.wait or -1)
    end
    return a.name < b.name
  end)
  if #rows == 0 then
    lines[#lines + 1] = line("no ready jobs on the watched queues", "dim")
  end
  for n, t in ipairs(rows) do
    if n > config.rows then
      lines[#lines + 1] = line("… and " .. text.count(#rows - config.rows, "more tenant"), "dim")
      break
    end
    local status = tenant_status(t, t.wait)
    local drain = "-"
    if t.rate and t.rate > 0 then
      drain = text.duration(t.ready / t.rate * 60)
    end
    local name_style = (t.name == NO_TENANT or t.name == UNREADABLE or t.name == OTHERS) and "dim" or "normal"
    lines[#lines + 1] = {
      span(text.left(t.name, 28), name_style),
      text.right(text.number(t.ready), 8) .. text.right(t.wait and text.duration(t.wait) or "-", 10)
        .. text.right(t.rate and text.number(t.rate) or "-", 11) .. text.right(drain, 9) .. "  ",
      span(status, STYLE[status]),
    }
  end
  for _, p in ipairs(reading_done.partial) do
    local note = string.format("partial: read the %d oldest ready jobs of %s", p.jobs, p.queue)
    if p.younger then
      note = note .. "; the rest waited under " .. text.duration(p.younger)
    end
    lines[#lines + 1] = line(note, "warn")
  end
  if reading_done.unreadable > 0 then
    lines[#lines + 1] = line(text.count(reading_done.unreadable, "payload")
      .. " too long or complex to read the tenant from", "dim")
  end
  for _, problem in ipairs(reading_done.errors) do
    lines[#lines + 1] = line("could not read " .. problem, "error")
  end
end

-- Tenants first, then the queues: a panel is often only a few rows high.
render = function()
  local lines = {}
  if stats_at == nil then
    lines[1] = line("waiting for the first queue statistics…", "dim")
    qtui.render(lines)
    return
  end
  local head = "SLA " .. text.duration(config.threshold) .. " · warn at "
    .. text.duration(config.threshold * config.warn_ratio)
  if watching > 0 then
    head = head .. " · " .. text.count(#queues, "watched queue")
  end
  lines[1] = line(head, "title")
  if refusal then
    lines[#lines + 1] = line("per-tenant view off: jobs.peek is not available", "error")
    for _, part in ipairs(text.wrap(refusal, WIDTH, 3)) do
      lines[#lines + 1] = { span(part, "error") }
    end
  elseif last == nil then
    lines[#lines + 1] = line(reading and string.format("reading ready jobs… %d so far", reading.jobs)
      or "per-tenant view after the first reading", "dim")
  else
    local age = stats_at - last.at
    lines[#lines + 1] = line(string.format("tenants as of %s (%s ago), %s read%s",
      os.date("%H:%M:%S", math.floor(last.at)), text.duration(age), text.count(last.jobs, "ready job"),
      reading and ", reading again…" or ""), "dim")
    tenant_lines(lines)
  end
  lines[#lines + 1] = ""
  queue_lines(lines)
  qtui.render(lines)
end

-- Events ------------------------------------------------------------------------------------

local function take_stats(event)
  if type(event.taken_at) ~= "number" or type(event.queues) ~= "table" then
    return
  end
  stats_at = event.taken_at
  queues = {}
  for _, q in ipairs(event.queues) do
    if type(q) == "table" and type(q.name) == "string" and is_watched(q.name) then
      queues[#queues + 1] = {
        name = q.name,
        ready = type(q.ready) == "number" and q.ready or 0,
        oldest = type(q.oldest_ready_age) == "number" and q.oldest_ready_age or nil,
        done = type(q.completed_per_min) == "number" and q.completed_per_min or 0,
      }
    end
  end
  if reading == nil and refusal == nil and (last == nil or stats_at - last.at >= config.refresh) then
    start_reading()
  end
end

function activate(ctx)
  configure(ctx.settings)
  qtui.subscribe("stats")
  render()
end

function on_event(event)
  if event.type == "stats" then
    take_stats(event)
  elseif event.type == "action" then
    if reading == nil or event.id ~= reading.request then
      return -- a reply to a reading that was abandoned
    end
    take_page(event)
  elseif event.type == "settings" then
    configure(event.settings)
    refusal = nil
  end
  render()
end
