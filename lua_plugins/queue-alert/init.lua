-- queue-alert: raise an alert when a queue's ready count, dead count or oldest wait passes a
-- threshold, clear it once the value falls below a share of that threshold (hysteresis), and
-- announce both in the status line and on the plugin's own bus topic. See README.md.

local text = require("qtui.text")
local queues_lib = require("qtui.queues")

local fit, columns = text.fit, text.columns -- one-column text is laid out in Lua, without a host call

local TOPIC = "plugin.queue-alert.alert"
local HISTORY = 5
local ACTIVE_ROWS = 6

-- The values watched: the stats field, how to show a value, the setting holding the threshold.
local METRICS = {
  { name = "ready", field = "ready", setting = "ready_threshold" },
  { name = "dead", field = "dead", setting = "dead_threshold" },
  { name = "oldest", field = "oldest_ready_age", setting = "age_threshold_seconds", duration = true },
}

local width = 78        -- the panel's columns, from resize events
local height            -- the panel's rows, from resize events (nil: not known, every row counts)
local config = {}
local is_watched
local active = {}      -- "queue metric" -> {queue=, metric=, value=, threshold=, since=}
local history = {}     -- latest raised/cleared events, newest first
local watched_count = 0
local stats_at
local clear_since      -- when the panel last became all clear
local notify_refusal   -- why qtui.notify failed, shown once on the panel
local every_row = true -- the next statistics are judged whole (not only the rows marked changed)
local dirty = true     -- the panel shows something the last render did not

local function show(metric, value)
  if metric.duration then
    return text.duration(value)
  end
  return text.number(value)
end

-- How long an alert has held, to the minute: 3m, 2h07m, 3d04h (it changes once a minute, so
-- an idle panel is drawn again once a minute, not on every poll).
local function held(seconds)
  local m = math.max(0, seconds) // 60
  if m < 1 then
    return "<1m"
  elseif m < 60 then
    return string.format("%dm", m)
  elseif m < 1440 then
    return string.format("%dh%02dm", m // 60, m % 60)
  end
  return string.format("%dd%02dh", m // 1440, m % 1440 // 60)
end

local function configure(settings)
  settings = type(settings) == "table" and settings or {}
  config = { thresholds = {} }
  for _, metric in ipairs(METRICS) do
    local t = settings[metric.setting]
    config.thresholds[metric.name] = type(t) == "number" and t > 0 and t or nil
  end
  local ratio = settings.clear_ratio
  config.clear_ratio = type(ratio) == "number" and ratio >= 0 and ratio <= 1 and ratio or 0.8
  config.notify = settings.notify ~= false
  is_watched = queues_lib.matcher(settings.queues)
end

-- Raising and clearing --------------------------------------------------------------------

-- Record, publish and announce a raised or cleared alert; `reason` explains a clearing that
-- is not the value falling below the clearing level.
local function announce(alert, state, metric, value, reason)
  local message
  if reason then
    message = string.format("%s %s %s (%s)", alert.queue, metric.name, show(metric, value), reason)
  else
    local verb = state == "raised" and "≥" or "<"
    local limit = state == "raised" and alert.threshold or alert.threshold * config.clear_ratio
    message = string.format("%s %s %s %s %s", alert.queue, metric.name, show(metric, value), verb,
      show(metric, limit))
  end
  dirty = true
  table.insert(history, 1, { at = stats_at, state = state, message = message })
  history[HISTORY + 1] = nil
  qtui.publish(TOPIC, {
    queue = alert.queue, metric = metric.name, state = state, value = value,
    threshold = alert.threshold, at = stats_at,
  })
  if config.notify and notify_refusal == nil then
    local ok, err = pcall(qtui.notify, state .. ": " .. message, state == "raised" and "warning" or "info")
    if not ok then
      notify_refusal = text.message(err)
    end
  end
end

local function judge(queue, metric, value)
  local key = queue .. " " .. metric.name
  local alert = active[key]
  local threshold = config.thresholds[metric.name]
  if alert == nil then
    if threshold and value >= threshold then
      alert = { queue = queue, metric = metric, threshold = threshold, since = stats_at, value = value }
      active[key] = alert
      announce(alert, "raised", metric, value)
    end
    return
  end
  if alert.shown and show(metric, value) ~= show(metric, alert.value) then
    dirty = true -- the value shown
  end
  alert.value, alert.threshold = value, threshold or alert.threshold
  if threshold == nil then
    active[key] = nil
    announce(alert, "cleared", metric, value, "rule turned off")
  elseif value < threshold * config.clear_ratio then
    active[key] = nil
    announce(alert, "cleared", metric, value)
  end
end

-- Seconds after these statistics when the alerts or the panel would change with time alone: an
-- oldest wait reaching its threshold, the wait or held time of an alert on the panel shown
-- differently (alerts beyond its rows are only counted).
local function next_look(event)
  local soonest = 3600
  local threshold = config.thresholds.oldest
  for _, q in ipairs(event.queues) do
    local age = type(q) == "table" and q.oldest_ready_age
    if type(age) == "number" and type(q.name) == "string" and is_watched(q.name) then
      local alert = active[q.name .. " oldest"]
      if alert then
        if alert.shown then
          soonest = math.min(soonest, text.duration_holds(age))
        end
      elseif threshold and age < threshold then
        soonest = math.min(soonest, threshold - age)
      end
    end
  end
  for _, alert in pairs(active) do
    if alert.shown then
      soonest = math.min(soonest, 60 - (stats_at - alert.since) % 60)
    end
  end
  return math.max(0, soonest)
end

-- Judge the statistics; false when they are not statistics to judge.
local function take_stats(event)
  if type(event.taken_at) ~= "number" or type(event.queues) ~= "table" then
    return false
  end
  if stats_at == nil then
    dirty = true
    clear_since = event.taken_at
  end
  stats_at = event.taken_at
  -- A row the event does not mark changed has the same counts: only the oldest job's wait,
  -- which grows with time alone, is judged again. An event that does not say what changed (a
  -- replayed recording made before stats events did) is judged whole.
  local whole = every_row or type(event.removed) ~= "table"
  every_row = false
  local seen = {}
  local watched = 0
  for _, q in ipairs(event.queues) do
    if type(q) == "table" and type(q.name) == "string" and is_watched(q.name) then
      seen[q.name] = true
      watched = watched + 1
      for _, metric in ipairs(METRICS) do
        if whole or q.changed or metric.duration then
          local value = q[metric.field]
          judge(q.name, metric, type(value) == "number" and value or 0)
        end
      end
    end
  end
  if watched ~= watched_count then
    watched_count, dirty = watched, true
  end
  -- An alert on a queue that is gone (or no longer watched) has nothing left to measure.
  for key, alert in pairs(active) do
    if not seen[alert.queue] then
      active[key] = nil
      announce(alert, "cleared", alert.metric, alert.value, "queue gone or no longer watched")
    end
  end
  local any = false
  for _, alert in pairs(active) do
    any = true
    local shown = held(stats_at - alert.since)
    if shown ~= alert.held then
      alert.held = shown
      dirty = dirty or alert.shown == true -- only counted beyond the panel's rows
    end
  end
  if any then
    clear_since = nil
  elseif clear_since == nil then
    clear_since = stats_at
  end
  return true
end

-- Rendering ---------------------------------------------------------------------------------

local function line(s, style)
  return { { text = fit(s, width), style = style } }
end

local function clock(t)
  return type(t) == "number" and os.date("%H:%M:%S", math.floor(t)) or "--:--:--"
end

local function render()
  local parts = {}
  for _, metric in ipairs(METRICS) do
    local t = config.thresholds[metric.name]
    if t then
      parts[#parts + 1] = metric.name .. " ≥ " .. show(metric, t)
    end
  end
  local head = #parts > 0 and table.concat(parts, " · ") or "every threshold is off"
  local lines = { line(head .. string.format(" · clear below %d%%", math.floor(config.clear_ratio * 100 + 0.5)),
    "title") }
  if notify_refusal then
    for _, part in ipairs(text.wrap("status-line notices off: " .. notify_refusal, width, 3)) do
      lines[#lines + 1] = { { text = part, style = "warn" } }
    end
  end
  if stats_at == nil then
    lines[#lines + 1] = line("waiting for the first queue statistics…", "dim")
  else
    local list = {}
    for _, alert in pairs(active) do
      list[#list + 1] = alert
    end
    table.sort(list, function(a, b)
      if a.since ~= b.since then
        return a.since < b.since
      end
      return a.queue .. a.metric.name < b.queue .. b.metric.name
    end)
    if #list == 0 then
      lines[#lines + 1] = line(string.format("all clear on %s from %s", text.count(watched_count, "watched queue"),
        clock(clear_since)), "ok")
    end
    -- What the next statistics may change on the panel: the alerts whose rows fit on it.
    local first = #lines + 1
    for n, alert in ipairs(list) do
      alert.shown = n <= ACTIVE_ROWS and (height == nil or first + n - 1 <= height)
    end
    for n, alert in ipairs(list) do
      if n > ACTIVE_ROWS then
        lines[#lines + 1] = line("… and " .. text.count(#list - ACTIVE_ROWS, "more alert"), "error")
        break
      end
      -- The queue takes what is left; "since" is left out of a narrow panel.
      lines[#lines + 1] = columns({
        { text = alert.queue, style = "bold" },
        { text = alert.metric.name, style = "error" },
        { text = show(alert.metric, alert.value), style = "error" },
        { text = "≥ " .. show(alert.metric, alert.threshold), style = "error" },
        { text = "since " .. clock(alert.since) .. " (" .. held(stats_at - alert.since) .. ")", style = "dim" },
      }, { 0, 6, -7, 9, 24 }, width)
    end
  end
  if #history > 0 then
    lines[#lines + 1] = line("recent", "bold")
    for _, entry in ipairs(history) do
      lines[#lines + 1] = columns({
        clock(entry.at), { text = entry.state, style = entry.state == "raised" and "warn" or "ok" }, entry.message,
      }, { 8, 7, 0 }, width)
    end
  end
  qtui.render(lines)
  dirty = false
end

-- Events ------------------------------------------------------------------------------------

function activate(ctx)
  configure(ctx.settings)
  -- After a hot reload, carry on with the alerts already raised instead of raising them again.
  local kept = type(ctx.state) == "table" and ctx.state or {}
  if type(kept.active) == "table" then
    for _, a in ipairs(kept.active) do
      for _, metric in ipairs(METRICS) do
        if type(a) == "table" and a.metric == metric.name and type(a.queue) == "string"
            and type(a.threshold) == "number" and type(a.since) == "number" and type(a.value) == "number" then
          active[a.queue .. " " .. metric.name] = { queue = a.queue, metric = metric, threshold = a.threshold,
                                                    since = a.since, value = a.value }
        end
      end
    end
  end
  if type(kept.history) == "table" then
    for _, h in ipairs(kept.history) do
      if type(h) == "table" and type(h.at) == "number" and type(h.state) == "string"
          and type(h.message) == "string" and #history < HISTORY then
        history[#history + 1] = { at = h.at, state = h.state, message = h.message }
      end
    end
  end
  qtui.subscribe("stats")
  render()
end

function on_event(event)
  if event.type == "stats" then
    if take_stats(event) then
      if dirty then
        render() -- else the panel would show the same
      end
      qtui.unchanged_stats(next_look(event)) -- after render: it knows which alerts the panel shows
    end
    return
  elseif event.type == "resize" then
    -- the same width gives the same lines, which the console does not redraw; alerts that did
    -- not fit before may fit now: the next poll comes whatever it shows, to bring them up to date
    width = event.width
    height = math.type(event.height) == "integer" and event.height or nil
    qtui.unchanged_stats(0)
  elseif event.type == "settings" then
    configure(event.settings)
    notify_refusal = nil
    every_row = true -- judged whole against the new thresholds, at the next poll
    qtui.unchanged_stats(0)
  end
  render()
end

function deactivate()
  local kept = {}
  for _, alert in pairs(active) do
    kept[#kept + 1] = { queue = alert.queue, metric = alert.metric.name, threshold = alert.threshold,
                        since = alert.since, value = alert.value }
  end
  return { active = kept, history = history }
end
