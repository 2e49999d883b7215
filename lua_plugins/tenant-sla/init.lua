-- tenant-sla: per tenant, how long the oldest ready job has waited and how fast the tenant's
-- ready jobs are taken, against an SLA threshold. See README.md.
--
-- Stats events give per-queue counts and ages on every poll; tenants are only named inside
-- payloads, so every `refresh_seconds` the plugin asks the backend to count the ready jobs of
-- each watched queue by the payload's tenant field (qtui.jobs.count_by): the backend reads the
-- payloads, the plugin gets one row per tenant. When no job of the watched queues moved since
-- the last reading (their counts and oldest ready jobs are the same; rates falling as their
-- minute passes move no job), reading again would count the same jobs: the last reading is
-- carried forward instead, once (it shows then that no job was taken), and the backend is not
-- asked.

local text = require("qtui.text")
local queues_lib = require("qtui.queues")

local fit, columns = text.fit, text.columns -- one-column text is laid out in Lua, without a host call

-- Distinct tenants kept per reading (the backend sends the biggest first); bytes of a name kept.
local MAX_TENANTS = 500
local MAX_NAME = 256
local QUEUE_ROWS = 5

local NO_TENANT, UNREADABLE, OTHERS = "(no tenant)", "(unreadable)", "(others)"

-- Column widths by panel width: a negative width right-aligns, 0 takes what is left.
local WIDE = 58
local TENANT_WIDE = { 0, -6, -7, -9, -7, 7 }
local TENANT_NARROW = { 0, -6, -7, 7 }
local QUEUE_WIDE = { 0, -6, -7, -8, 7 }
local QUEUE_NARROW = { 0, -6, -7, 7 }

local width = 78        -- the panel's columns, from resize events
local height            -- the panel's rows, from resize events (nil: not known, every row counts)
local config = {}       -- settings, checked
local is_watched        -- whether a queue is watched, from the `queues` setting
local watching = 0      -- how many names that setting lists (0: every queue)
local queues = {}       -- latest stats rows of watched queues
local stats_at          -- taken_at of the latest stats
local reading           -- the reading in progress, or nil
local last              -- the latest complete reading
local refusal           -- why jobs.count_by cannot be used (the host's words), or nil
local moved = true      -- a watched queue's jobs changed since the last reading began
local held = {}         -- per watched queue: its counts and oldest ready job at the latest stats
local drawn             -- what the panel showed at the last render (see view_key), or nil
local laid_out          -- {reading=, width=, lines=}: the tenant lines laid out for a reading
local on_panel = {}     -- names of the queues whose rows fit on the panel, as last drawn

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
    scan = whole(settings.jobs_per_queue, 500, 1, 50000),
    rows = whole(settings.rows, 10, 1, 100),
  }
  is_watched, watching = queues_lib.matcher(settings.queues)
  reading, last, moved, drawn, laid_out, held = nil, nil, true, nil, nil, {}
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

-- Reading: ready jobs counted by tenant, per queue ---------------------------------------------

-- The tenant row `name` of `rows`, made on first use; past MAX_TENANTS, `(others)`.
local function tenant(rows, name)
  local t = rows.by_name[name]
  if t == nil then
    if rows.count >= MAX_TENANTS and name ~= OTHERS then
      return tenant(rows, OTHERS)
    end
    t = { name = name, ready = 0 }
    rows.by_name[name] = t
    rows.count = rows.count + 1
  end
  return t
end

-- Jobs each tenant had at the previous reading that are no longer ready: counted on queues
-- read completely then, and read now at least as far as the jobs made before that reading
-- (they are the oldest, read first). A tenant with jobs on another queue gets no pace.
local function pace(done)
  if last == nil or done.at <= last.at then
    return
  end
  local taken, unknown = {}, {}
  for name, before in pairs(last.by_queue) do
    local now = done.by_queue[name]
    local known = before.complete and now ~= nil
      and (now.complete or (now.newest ~= nil and now.newest >= last.at))
    for tenant_name, ready in pairs(before.ready) do
      if known then
        local left = now.older[tenant_name] or 0
        taken[tenant_name] = (taken[tenant_name] or 0) + math.max(0, ready - left)
      else
        unknown[tenant_name] = true
      end
    end
  end
  local minutes = (done.at - last.at) / 60
  for name, t in pairs(done.tenants.by_name) do
    if not unknown[name] and name ~= UNREADABLE and last.tenants.by_name[name] ~= nil then
      t.rate = (taken[name] or 0) / minutes
      t.compared = true
    end
  end
end

local function finish_reading()
  local done = reading
  reading = nil
  pace(done)
  last = done
end

-- The counts of one queue arrived.
local function take_counts(queue, event)
  reading.waiting = reading.waiting - 1
  if not event.ok then
    reading.errors[#reading.errors + 1] = queue .. ": " .. tostring(event.error)
  else
    local result = type(event.result) == "table" and event.result or {}
    local here = { ready = {}, older = {}, complete = result.complete == true,
                   newest = type(result.newest) == "number" and result.newest or nil }
    for _, group in ipairs(type(result.groups) == "table" and result.groups or {}) do
      local name = type(group.value) == "string" and group.value:sub(1, MAX_NAME) or NO_TENANT
      local count = type(group.count) == "number" and group.count or 0
      local t = tenant(reading.tenants, name)
      t.ready = t.ready + count
      if type(group.oldest) == "number" and (t.oldest == nil or group.oldest < t.oldest) then
        t.oldest = group.oldest
      end
      here.ready[t.name] = (here.ready[t.name] or 0) + count
      here.older[t.name] = (here.older[t.name] or 0) + (type(group.older) == "number" and group.older or 0)
    end
    local unreadable = type(result.unreadable) == "number" and result.unreadable or 0
    if unreadable > 0 then
      local t = tenant(reading.tenants, UNREADABLE)
      t.ready = t.ready + unreadable
      reading.unreadable = reading.unreadable + unreadable
    end
    reading.jobs = reading.jobs + (type(result.scanned) == "number" and result.scanned or 0)
    if not here.complete then
      reading.partial[#reading.partial + 1] = { queue = queue, jobs = result.scanned or 0,
                                                younger = here.newest and reading.at - here.newest }
    end
    reading.by_queue[queue] = here
  end
  if reading.waiting == 0 then
    finish_reading()
  end
end

-- Nothing on the watched queues changed since `last` was read: the same jobs are still there,
-- so the reading is carried forward to now (no job was taken in between) without asking. Once
-- carried, it stands until a job moves.
local function carry_forward()
  local done = {
    at = stats_at, waiting = 0, asked = {}, tenants = { by_name = {}, count = 0 }, by_queue = {},
    jobs = last.jobs, unreadable = last.unreadable, partial = {}, errors = {}, carried = true,
  }
  for name, t in pairs(last.tenants.by_name) do
    done.tenants.by_name[name] = { name = name, ready = t.ready, oldest = t.oldest }
  end
  done.tenants.count = last.tenants.count
  for queue, here in pairs(last.by_queue) do
    -- Every job read now was there at the last reading: all of them are older than it.
    done.by_queue[queue] = { ready = here.ready, older = here.ready, complete = here.complete, newest = here.newest }
  end
  for _, p in ipairs(last.partial) do
    done.partial[#done.partial + 1] = { queue = p.queue, jobs = p.jobs,
                                        younger = p.younger and p.younger + (stats_at - last.at) }
  end
  pace(done)
  last = done
end

local function start_reading()
  if last ~= nil and not moved and #last.errors == 0 then
    if not last.carried then
      carry_forward()
    end
    return
  end
  moved = false
  reading = {
    at = stats_at, waiting = 0, asked = {}, tenants = { by_name = {}, count = 0 },
    by_queue = {}, jobs = 0, unreadable = 0, partial = {}, errors = {},
  }
  for _, q in ipairs(queues) do
    if q.ready > 0 then
      local ok, id = pcall(qtui.jobs.count_by, {
        queue = q.name, field = config.tenant_field, limit = config.scan, older_than = last and last.at,
      })
      if not ok then
        refusal = text.message(id)
        reading = nil
        return
      end
      reading.asked[id] = q.name
      reading.waiting = reading.waiting + 1
    end
  end
  if reading.waiting == 0 then
    finish_reading()
  end
end

-- Rendering ---------------------------------------------------------------------------------

-- A line of one style, fitted to the panel.
local function line(s, style)
  return { { text = fit(s, width), style = style } }
end

-- The queue rows shown, longest wait first, as plain text (no host call): the cells and status
-- of each, how many queues are left out, and the names of those shown.
local function queue_rows()
  local rows = {}
  for _, q in ipairs(queues) do
    rows[#rows + 1] = q
  end
  table.sort(rows, function(a, b) return (a.oldest or -1) > (b.oldest or -1) end)
  local shown, names = {}, {}
  for n = 1, math.min(#rows, QUEUE_ROWS) do
    local q = rows[n]
    names[n] = q.name
    local cells = { q.name, text.number(q.ready), q.oldest and text.duration(q.oldest) or "-" }
    if width >= WIDE then
      cells[#cells + 1] = text.number(q.done)
    end
    cells[#cells + 1] = judge(q.oldest)
    shown[n] = cells
  end
  return shown, #rows - #shown, names
end

-- The queues `names`, whose rows start at line `first` of the panel, that fit in its height:
-- the ones whose waits the panel follows between polls. A row below the panel (tenants fill a
-- short docked panel) is brought up to date by the next poll that reaches the plugin.
local function fitting(names, first)
  local fit_names = {}
  for n, name in ipairs(names) do
    if height == nil or first + n - 1 <= height then
      fit_names[name] = true
    end
  end
  return fit_names
end

local function queue_lines(lines, rows, more)
  local layout = width >= WIDE and QUEUE_WIDE or QUEUE_NARROW
  local head = width >= WIDE and { "QUEUE", "READY", "OLDEST", "DONE/MIN", "STATUS" }
    or { "QUEUE", "READY", "OLDEST", "STATUS" }
  lines[#lines + 1] = columns(head, layout, width, "bold")
  for _, cells in ipairs(rows) do
    local status = cells[#cells]
    cells[#cells] = { text = status, style = STYLE[status] }
    lines[#lines + 1] = columns(cells, layout, width)
  end
  if more > 0 then
    lines[#lines + 1] = line("… and " .. text.count(more, "more queue"), "dim")
  end
end

-- What the panel shows, in a string: the same string, the same lines. Made without a host
-- call, so a poll that changed nothing shown costs no rendering.
local function view_key(rows, more)
  local parts = { tostring(width), tostring(height), tostring(stats_at ~= nil), tostring(refusal), tostring(last),
                  tostring(reading ~= nil), tostring(more), tostring(moved) }
  for _, cells in ipairs(rows) do
    parts[#parts + 1] = table.concat(cells, "\t")
  end
  return table.concat(parts, "\n")
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
  local done = last
  local wide = width >= WIDE
  local layout = wide and TENANT_WIDE or TENANT_NARROW
  local head = wide and { "TENANT", "READY", "OLDEST", "TAKEN/MIN", "DRAIN", "STATUS" }
    or { "TENANT", "READY", "OLDEST", "STATUS" }
  lines[#lines + 1] = columns(head, layout, width, "bold")
  local rows = {}
  for _, t in pairs(done.tenants.by_name) do
    t.wait = t.oldest and done.at - t.oldest
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
    local plain = t.name == NO_TENANT or t.name == UNREADABLE or t.name == OTHERS
    local cells = { { text = t.name, style = plain and "dim" or "normal" }, text.number(t.ready),
                    t.wait and text.duration(t.wait) or "-" }
    if wide then
      cells[#cells + 1] = t.rate and text.number(t.rate) or "-"
      cells[#cells + 1] = t.rate and t.rate > 0 and text.duration(t.ready / t.rate * 60) or "-"
    end
    cells[#cells + 1] = { text = status, style = STYLE[status] }
    lines[#lines + 1] = columns(cells, layout, width)
  end
  for _, p in ipairs(done.partial) do
    local note = string.format("partial: read the %d oldest ready jobs of %s", p.jobs, p.queue)
    if p.younger then
      note = note .. "; the rest waited under " .. text.duration(p.younger)
    end
    for _, part in ipairs(text.wrap(note, width, 2)) do
      lines[#lines + 1] = { { text = part, style = "warn" } }
    end
  end
  if done.unreadable > 0 then
    lines[#lines + 1] = line(text.count(done.unreadable, "payload") .. " not JSON or too long to read", "dim")
  end
  for _, problem in ipairs(done.errors) do
    lines[#lines + 1] = line("could not read " .. problem, "error")
  end
end

-- Tenants first, then the queues: a panel is often only a few rows high.
local function render()
  local rows, more, names = queue_rows()
  local key = view_key(rows, more)
  if key == drawn then
    return -- the same lines, so the same rows fit (the key has the height)
  end
  drawn = key
  local lines = {}
  if stats_at == nil then
    lines[1] = line("waiting for the first queue statistics…", "dim")
    on_panel = {}
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
    lines[#lines + 1] = line("per-tenant view off: jobs.count_by is not available", "error")
    for _, part in ipairs(text.wrap(refusal, width, 3)) do
      lines[#lines + 1] = { { text = part, style = "error" } }
    end
  elseif last == nil then
    lines[#lines + 1] = line(reading and "counting ready jobs by tenant…" or "per-tenant view after the first reading",
      "dim")
  else
    lines[#lines + 1] = line(string.format("tenants as of %s, %s read%s",
      os.date("%H:%M:%S", math.floor(last.at)), text.count(last.jobs, "ready job"),
      reading and ", reading again…" or last.carried and not moved and ", no job moved since" or ""), "dim")
    -- Laid out once per reading and width: the queue rows below change on every poll while
    -- the oldest waits are under an hour, the tenants only with the next reading.
    if laid_out == nil or laid_out.reading ~= last or laid_out.width ~= width then
      laid_out = { reading = last, width = width, lines = {} }
      tenant_lines(laid_out.lines)
    end
    table.move(laid_out.lines, 1, #laid_out.lines, #lines + 1, lines)
  end
  lines[#lines + 1] = ""
  on_panel = fitting(names, #lines + 2) -- below the header
  queue_lines(lines, rows, more)
  qtui.render(lines)
end

-- Events ------------------------------------------------------------------------------------

-- Seconds after these statistics when the panel would change with time alone: the next reading
-- (none while a reading carried forward stands: a job moving comes at once), the oldest wait of
-- a queue on the panel shown differently or passing the warning level or the threshold.
local function next_look()
  local soonest = 3600
  if refusal == nil and not (last and last.carried and not moved) then
    soonest = last and math.min(soonest, config.refresh - (stats_at - last.at)) or 0
  end
  for _, q in ipairs(queues) do
    if q.oldest and on_panel[q.name] then
      soonest = math.min(soonest, text.duration_holds(q.oldest))
      for _, level in ipairs({ config.threshold * config.warn_ratio, config.threshold }) do
        if q.oldest < level then
          soonest = math.min(soonest, level - q.oldest)
        end
      end
    end
  end
  return math.max(0, soonest)
end

-- Whether the jobs of stats row `q` may differ from those at the stats before: a count changed
-- or the oldest ready job is another one (made more than a second apart). Rates that moved as
-- their minute passed moved no job.
local function jobs_moved(q, oldest)
  local counts = string.format("%s %s %s %s %s", q.ready, q.scheduled, q.processing, q.completed, q.dead)
  local made = oldest and stats_at - oldest
  local before = held[q.name]
  held[q.name] = { counts = counts, made = made }
  if before == nil or before.counts ~= counts or (made == nil) ~= (before.made == nil) then
    return true
  end
  return made ~= nil and math.abs(made - before.made) > 1
end

local function take_stats(event)
  if type(event.taken_at) ~= "number" or type(event.queues) ~= "table" then
    return
  end
  stats_at = event.taken_at
  queues = {}
  -- An event that does not say what changed (a replayed recording made before stats events
  -- did) counts as a change; so does a watched queue that is gone.
  if type(event.removed) ~= "table" or #event.removed > 0 then
    moved = true
  end
  for _, q in ipairs(event.queues) do
    if type(q) == "table" and type(q.name) == "string" and is_watched(q.name) then
      local oldest = type(q.oldest_ready_age) == "number" and q.oldest_ready_age or nil
      if jobs_moved(q, oldest) then
        moved = true
      end
      queues[#queues + 1] = {
        name = q.name,
        ready = type(q.ready) == "number" and q.ready or 0,
        oldest = oldest,
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
    local queue = reading and reading.asked[event.id]
    if queue == nil then
      return -- a reply to a reading that was abandoned
    end
    take_counts(queue, event)
  elseif event.type == "resize" then
    -- the same size gives the same lines, which the console does not redraw
    width = event.width
    height = math.type(event.height) == "integer" and event.height or nil
  elseif event.type == "settings" then
    configure(event.settings)
    refusal = nil
  end
  render()
  if stats_at ~= nil then
    -- After render, which picks the queue rows shown; a reading that just ended is due later.
    -- After a resize the next poll comes whatever it shows: rows that did not fit before may
    -- fit now, with the waits of the statistics the plugin was given last.
    qtui.unchanged_stats(event.type == "resize" and 0 or next_look())
  end
end
