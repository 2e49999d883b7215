-- qtui.text, part of qtui's library for plugins: require("qtui.text").
--
-- Display helpers: make hostile text safe and fit it into a fixed number of terminal columns.
-- The host's code, not the plugin's: it ships with qtui (a qtui upgrade may change it, as it may
-- change the API), runs in the plugin's own sandbox under the plugin's limits, and the table
-- `require` returns is read-only.

local text = {}

-- Measuring and cutting is the host's (qtui.text of API 1.1): the same width table the console
-- lays out with, and the same rule for what is unsafe on a terminal. Its fit and pad clean
-- what they are given first (one call to the host instead of two).
local native_clean, native_width, native_fit, native_pad =
  native.text_clean, native.text_width, native.text_fit, native.text_pad

-- Text of printable ASCII only (most of what panels show: names, numbers) takes one column a
-- character and has nothing to make safe, so it is measured and cut here, without a call to
-- the host; the rules are the host's (qtui.plugins.runtime.textcells), and a property test
-- holds the two to the same answers.
local find, sub, rep = string.find, string.sub, string.rep
local CLEAN_CHARS = 200 -- characters clean keeps
local MAX_CHARS = 65536 -- longest text width measures
local MAX_COLUMNS = 10000 -- widest fit or pad
local ELLIPSIS = "\u{2026}"

local function printable_ascii(s)
  return not find(s, "[\0-\31\127-\255]")
end

local function clean(s)
  if printable_ascii(s) then
    return sub(s, 1, CLEAN_CHARS)
  end
  return native_clean(s)
end

local function width(s)
  if #s <= MAX_CHARS and printable_ascii(s) then
    return #s
  end
  return native_width(s)
end

-- Clean `s`, cut to at most `columns` columns with the ellipsis when cut.
local function fit_text(s, columns)
  if not printable_ascii(s) then
    return native_fit(s, columns)
  end
  if columns < 1 then
    return ""
  end
  s = sub(s, 1, CLEAN_CHARS)
  if #s <= columns then
    return s
  end
  return sub(s, 1, columns - 1) .. ELLIPSIS
end

-- Clean `s`, fitted into exactly `columns` columns, aligned left or right.
local function pad(s, columns, align)
  if not printable_ascii(s) then
    return native_pad(s, columns, align)
  end
  columns = math.min(columns, MAX_COLUMNS)
  local cell = fit_text(s, columns)
  local gap = rep(" ", columns - width(cell))
  if align == "right" then
    return gap .. cell
  end
  return cell .. gap
end

-- `value` as a whole number (a fraction is dropped), or an error naming `fname`'s argument.
local function whole(fname, position, value)
  local got = type(value)
  if got == "number" then
    if value ~= value then
      got = "nan"
    elseif value == math.huge or value == -math.huge then
      got = value > 0 and "inf" or "-inf"
    else
      return math.floor(value)
    end
  end
  error("bad argument #" .. position .. " to 'qtui.text." .. fname .. "' (finite number expected, got "
    .. got .. ")", 3)
end

-- `value` as one safe line: tostring'd, cut to 200 characters, control characters, bidi marks
-- and the like shown as "?" (bytes that are not UTF-8 as the replacement character).
function text.clean(value)
  return clean(tostring(value))
end

-- Terminal columns taken by a clean string.
function text.width(s)
  if type(s) ~= "string" then
    error("bad argument #1 to 'qtui.text.width' (string expected, got " .. type(s) .. ")", 2)
  end
  return width(s)
end

-- text.fit, `columns` already checked to be a whole number.
local function fit(value, columns)
  return fit_text(tostring(value), columns)
end

-- `value` cleaned and cut to at most `columns` columns, with "…" when something was cut
-- (nothing fits in fewer than one column).
function text.fit(value, columns)
  return fit(value, whole("fit", 2, columns))
end

-- `value` fitted into exactly `columns` columns, left-aligned.
function text.left(value, columns)
  return pad(tostring(value), math.max(0, whole("left", 2, columns)), "left")
end

-- `value` fitted into exactly `columns` columns, right-aligned.
function text.right(value, columns)
  return pad(tostring(value), math.max(0, whole("right", 2, columns)), "right")
end

-- `value` cleaned and word-wrapped into at most `max_lines` lines of `columns` columns; a word
-- longer than a line is cut, and the last line ends in "…" when text was left out.
function text.wrap(value, columns, max_lines)
  columns, max_lines = whole("wrap", 2, columns), whole("wrap", 3, max_lines)
  if max_lines < 1 then
    return {}
  end
  local lines, current, used = {}, nil, 0
  for word in clean(tostring(value)):gmatch("%S+") do
    local w = width(word)
    if current ~= nil and used + 1 + w <= columns then
      current, used = current .. " " .. word, used + 1 + w
    else
      lines[#lines + 1] = current
      current = fit(word, columns)
      used = width(current)
    end
  end
  lines[#lines + 1] = current
  if #lines > max_lines then
    for n = #lines, max_lines + 1, -1 do
      lines[n] = nil
    end
    lines[max_lines] = fit(lines[max_lines] .. " …", columns)
  end
  return lines
end

-- The message of an error raised by Lua or the host, without its "file.lua:line: " prefix.
function text.message(err)
  local s = tostring(err)
  local at = s:find(".lua:", 1, true)
  if at and not s:sub(1, at):find(" ", 1, true) then
    local rest = s:match("^%d+: ()", at + 5)
    if rest then
      return s:sub(rest)
    end
  end
  return s
end

-- "1 job", "2 jobs": `n` and the noun, made plural by `plural` or an added "s".
function text.count(n, noun, plural)
  return string.format("%d %s", n, n == 1 and noun or plural or noun .. "s")
end

-- A number of seconds as a short duration: 42s, 3m05s, 2h07m, 3d04h ("-" for nil, NaN, or past
-- what an integer holds).
function text.duration(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds then
    return "-"
  end
  local s = math.tointeger(math.max(0, math.floor(seconds + 0.5)))
  if s == nil then
    return "-"
  end
  if s < 60 then
    return string.format("%ds", s)
  elseif s < 3600 then
    return string.format("%dm%02ds", s // 60, s % 60)
  elseif s < 86400 then
    return string.format("%dh%02dm", s // 3600, s % 3600 // 60)
  end
  return string.format("%dd%02dh", s // 86400, s % 86400 // 3600)
end

-- Seconds until text.duration shows something else for a wait that is `seconds` long now and
-- grows: at most a second under an hour, a minute under a day, an hour beyond (math.huge for
-- what always shows "-").
function text.duration_holds(seconds)
  if text.duration(seconds) == "-" then
    return math.huge
  end
  local s = math.max(0, math.floor(seconds + 0.5))
  local unit = s < 3600 and 1 or s < 86400 and 60 or 3600
  return (s // unit + 1) * unit - 0.5 - seconds
end

-- A count or rate in at most 6 columns: 7, 12.5, 1234, 12.3k, 4.5M.
function text.number(n)
  if type(n) ~= "number" or n ~= n then
    return "-"
  end
  local a = math.abs(n)
  if a >= 1e6 then
    return string.format("%.1fM", n / 1e6)
  elseif a >= 1e4 then
    return string.format("%.1fk", n / 1e3)
  elseif math.type(n) == "integer" or n == math.floor(n) then
    return string.format("%d", n)
  elseif a >= 100 then
    return string.format("%.0f", n)
  end
  return string.format("%.1f", n)
end

return text
