-- throughput: a sparkline of completed (and failed) jobs per minute for each queue, from the
-- statistics events, with the last 40 minutes kept in storage across restarts. See README.md.

local text = require("qtui.text")
local queues_lib = require("qtui.queues")

local fit, columns = text.fit, text.columns -- one-column text is laid out in Lua, without a host call

local KEEP = 40          -- minutes kept (and the widest chart)
local MAX_QUEUES = 40    -- queues kept (storage is capped at 64 KiB)
local SHOWN = 8          -- queues charted on the panel
local STORAGE_KEY = "series"
local FORMAT = 2
local BARS = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" }

local width = 78         -- the panel's columns, from resize events
local config = {}
local is_watched
local series = {}        -- queue -> {done = {[minute] = rate}, failed = {[minute] = rate}}
local tracked = 0        -- queues in `series`
local minute             -- the minute (Unix time // 60) of the latest statistics
local storage_problem    -- why history cannot be kept, shown on the panel
local every_row = true   -- the next statistics are read whole (not only the rows marked changed)

local function configure(settings)
  settings = type(settings) == "table" and settings or {}
  local minutes = settings.minutes
  config.minutes = type(minutes) == "number" and math.max(5, math.min(KEEP, math.floor(minutes))) or 30
  is_watched = queues_lib.matcher(settings.queues)
end

local function rate(value)
  if type(value) ~= "number" or value ~= value or value < 0 or value == math.huge then
    return 0
  end
  return math.floor(value * 10 + 0.5) / 10
end

-- Storage -------------------------------------------------------------------------------------

-- Drop the minutes before `oldest` from `values`: those from `from` on when given (the ones
-- before it are gone already), else every one.
local function drop_before(values, oldest, from)
  if from then
    for m = from, oldest - 1 do
      values[m] = nil
    end
  else
    for m in pairs(values) do
      if m < oldest then
        values[m] = nil
      end
    end
  end
end

-- Drop the minutes that left the window, and queues left without any. `before` is the minute
-- of the previous prune: the minutes between leave, which takes a few steps a queue.
local function prune(before)
  local oldest = minute - KEEP + 1
  local from = before and before - KEEP + 1
  if from and oldest - from > KEEP then
    from = nil -- a long gap: look at every minute kept
  end
  for name, s in pairs(series) do
    drop_before(s.done, oldest, from)
    drop_before(s.failed, oldest, from)
    if next(s.done) == nil and next(s.failed) == nil then
      series[name] = nil
      tracked = tracked - 1
    end
  end
end

-- Storage keeps each queue's rates as two lines of text, one field a minute (empty where
-- nothing was recorded): the host reads two strings a queue instead of 80 values.
local function joined(values)
  local fields, first = {}, minute - KEEP
  for i = 1, KEEP do
    fields[i] = values[first + i] or ""
  end
  return table.concat(fields, ",")
end

local function save()
  local queues = {}
  for name, s in pairs(series) do
    queues[name] = { done = joined(s.done), failed = joined(s.failed) }
  end
  local ok, err = pcall(qtui.storage.set, STORAGE_KEY, { format = FORMAT, minute = minute, queues = queues })
  storage_problem = not ok and text.message(err) or nil
end

-- The rates of one stored kind as {[minute] = rate}, or nil if it is malformed: a line of
-- `joined` (format 2), or a list of KEEP numbers and falses (format 1, before version 1.3.0).
local function stored_rates(stored, format, last)
  local values, first = {}, last - KEEP
  if format == FORMAT and type(stored) == "string" and #stored <= KEEP * 24 then
    local i = 0
    for field in (stored .. ","):gmatch("([^,]*),") do
      i = i + 1
      if i > KEEP then
        break
      end
      local v = tonumber(field)
      if v then
        values[first + i] = rate(v)
      end
    end
    return values
  elseif format == 1 and type(stored) == "table" then
    for i = 1, KEEP do
      local v = stored[i]
      if type(v) == "number" then
        values[first + i] = rate(v)
      end
    end
    return values
  end
  return nil
end

-- Read back what `save` wrote; anything malformed is skipped (the file may have been edited).
local function restore()
  local ok, data = pcall(qtui.storage.get, STORAGE_KEY)
  if not ok then
    storage_problem = text.message(data)
    return
  end
  if type(data) ~= "table" or (data.format ~= FORMAT and data.format ~= 1) or math.type(data.minute) ~= "integer"
      or data.minute > os.time() // 60 + 1 or type(data.queues) ~= "table" then
    return
  end
  for name, stored in pairs(data.queues) do
    if tracked >= MAX_QUEUES then
      break
    end
    if type(name) == "string" and #name <= 128 and type(stored) == "table" then
      local done = stored_rates(stored.done, data.format, data.minute)
      local failed = stored_rates(stored.failed, data.format, data.minute)
      if done and failed then
        series[name] = { done = done, failed = failed }
        tracked = tracked + 1
      end
    end
  end
  minute = data.minute
  prune()
end

-- Statistics ----------------------------------------------------------------------------------

-- Chart the statistics; returns whether the chart changed. Within a minute only the rows the
-- event marks changed can change it (an idle console's polls cost nothing more than this loop).
local function take_stats(event)
  if type(event.taken_at) ~= "number" or type(event.queues) ~= "table" then
    return false
  end
  local now = math.floor(event.taken_at // 60)
  -- Within a minute only a change can change the chart: statistics in which only time passed
  -- are needed again when the next minute begins.
  qtui.unchanged_stats(math.max(0, 60 - event.taken_at % 60))
  if minute ~= nil and now < minute then
    return false -- an older snapshot than one already charted
  end
  -- A new minute is charted from every row, and so is an event that does not say what changed
  -- (a replayed recording made before stats events did).
  local whole = now ~= minute or every_row or type(event.removed) ~= "table"
  every_row = false
  if minute ~= nil and now > minute then
    local before = minute
    minute = now
    prune(before)
    save() -- once a minute, when the previous minute is complete
  end
  minute = now
  local changed = whole
  for _, q in ipairs(event.queues) do
    if type(q) == "table" and type(q.name) == "string" and (whole or q.changed) and is_watched(q.name) then
      local s = series[q.name]
      if s == nil and tracked < MAX_QUEUES then
        s = { done = {}, failed = {} }
        series[q.name] = s
        tracked = tracked + 1
      end
      if s then
        -- The rates cover the last 60 seconds: the latest reading in a minute stands for it.
        local done, failed = rate(q.completed_per_min), rate(q.failed_per_min)
        changed = changed or s.done[now] ~= done or s.failed[now] ~= failed
        s.done[now] = done
        s.failed[now] = failed
      end
    end
  end
  return changed
end

-- Rendering ---------------------------------------------------------------------------------

-- What fits the panel: the name's columns, whether the peak is shown, and how many minutes.
local function layout()
  local name_columns = width >= 60 and 12 or 8
  local peak = width >= 56
  local fixed = name_columns + 1 + 4 + 1 + 1 + 8 + (peak and 11 or 0)
  return name_columns, peak, math.max(1, math.min(config.minutes, width - fixed))
end

-- The sparkline of `values` over the last `minutes` minutes and its peak: a blank where nothing
-- was recorded, the lowest bar for zero, and seven heights above it scaled to the peak.
local function sparkline(values, minutes)
  local peak = 0
  for m = minute - minutes + 1, minute do
    peak = math.max(peak, values[m] or 0)
  end
  local bars = {}
  for m = minute - minutes + 1, minute do
    local v = values[m]
    if v == nil then
      bars[#bars + 1] = " "
    elseif v <= 0 or peak <= 0 then
      bars[#bars + 1] = BARS[1]
    else
      bars[#bars + 1] = BARS[1 + math.max(1, math.ceil(v / peak * 7))]
    end
  end
  return table.concat(bars), peak
end

local function chart_line(name, label, style, values)
  local name_columns, show_peak, minutes = layout()
  local bars, peak = sparkline(values, minutes)
  local latest = values[minute]
  local cells = {
    { text = name, style = "bold" }, { text = label, style = "dim" }, { text = bars, style = style },
    (latest and text.number(latest) or "-") .. "/m",
  }
  local widths = { name_columns, 4, minutes, -8 }
  if show_peak then
    cells[#cells + 1] = { text = "peak " .. text.number(peak), style = "dim" }
    widths[#widths + 1] = -10
  end
  return columns(cells, widths, width)
end

local function render()
  local name_columns, _, minutes = layout()
  local lines = {
    { { text = fit(string.format("jobs per minute, last %d minutes (one column a minute)", minutes), width),
        style = "title" } },
  }
  if storage_problem then
    for _, part in ipairs(text.wrap("history not kept across restarts: " .. storage_problem, width, 3)) do
      lines[#lines + 1] = { { text = part, style = "warn" } }
    end
  end
  if minute == nil then
    lines[#lines + 1] = { { text = fit("waiting for the first queue statistics…", width), style = "dim" } }
  else
    local names = {}
    for name in pairs(series) do
      names[#names + 1] = name
    end
    table.sort(names)
    if #names == 0 then
      lines[#lines + 1] = { { text = "no queues to chart", style = "dim" } }
    end
    for n, name in ipairs(names) do
      if n > SHOWN then
        lines[#lines + 1] = { { text = fit("… and " .. text.count(#names - SHOWN, "more queue")
          .. " (choose with the queues setting)", width), style = "dim" } }
        break
      end
      local s = series[name]
      lines[#lines + 1] = chart_line(name, "done", "ok", s.done)
      local _, failed_peak = sparkline(s.failed, minutes)
      if failed_peak > 0 then
        lines[#lines + 1] = chart_line("", "fail", "error", s.failed)
      end
    end
    local left = string.format("-%dm", minutes)
    local gap = minutes - #left - #"now"
    local axis = gap >= 1 and left .. string.rep(" ", gap) .. "now" or string.rep(" ", math.max(0, minutes - 3)) .. "now"
    lines[#lines + 1] = { { text = fit(string.rep(" ", name_columns + 6) .. axis, width), style = "dim" } }
  end
  qtui.render(lines)
end

-- Events ------------------------------------------------------------------------------------

function activate(ctx)
  configure(ctx.settings)
  restore()
  qtui.subscribe("stats")
  render()
end

function on_event(event)
  if event.type == "stats" then
    if not take_stats(event) then
      return -- the same chart: nothing to draw
    end
  elseif event.type == "resize" then
    width = event.width -- the same width gives the same lines, which the console does not redraw
  elseif event.type == "settings" then
    configure(event.settings)
    every_row = true -- queues watched now are charted from the next statistics
    qtui.unchanged_stats(0)
    for name in pairs(series) do
      if not is_watched(name) then
        series[name] = nil
        tracked = tracked - 1
      end
    end
  end
  render()
end

function deactivate()
  if minute ~= nil then
    save()
  end
end
