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
local native_clean, native_width, native_fit, native_pad, native_columns =
  native.text_clean, native.text_width, native.text_fit, native.text_pad, native.text_columns

-- Text of printable ASCII (most of what panels show: names, numbers), and text whose other
-- characters are among NARROW, takes one column a character and has nothing to make safe, so
-- it is measured and cut here, without a call to the host; the rules are the host's
-- (qtui.plugins.runtime.textcells), and property tests hold the two to the same answers.
local find, sub, rep = string.find, string.sub, string.rep
local CLEAN_CHARS = 200 -- characters clean keeps
local MAX_CHARS = 65536 -- longest text width measures
local MAX_COLUMNS = 10000 -- widest fit or pad
local MAX_NARROW_BYTES = 1024 -- longest text beyond ASCII looked at here
local ELLIPSIS = "\u{2026}"

local function printable_ascii(s)
  return not find(s, "[\0-\31\127-\255]")
end

-- Characters beyond ASCII that take one column and that qtui.render shows as they are (Latin
-- letters, dashes, quotes, bullets, the ellipsis, arrows, mathematical signs, box drawing); a
-- test holds every one of them to the host's rules.
local NARROW = { { 0xA1, 0xAC }, { 0xAE, 0x17F }, { 0x2010, 0x2027 }, { 0x2030, 0x205E }, { 0x2190, 0x22FF },
                 { 0x2500, 0x259F } }

local function narrow(code)
  for _, range in ipairs(NARROW) do
    if code >= range[1] and code <= range[2] then
      return true
    end
  end
  return false
end

-- `s` and its length in columns when Lua may measure it (nil when the host is to).
local function plain_string(s)
  if printable_ascii(s) then
    return s, #s
  end
  local length = #s <= MAX_NARROW_BYTES and utf8.len(s)
  if not length then
    return nil
  end
  for _, code in utf8.codes(s) do
    if (code < 0x20 or code > 0x7E) and not narrow(code) then
      return nil
    end
  end
  return s, length
end

-- The first `n` characters of `s`, which has `length` of one column each.
local function first(s, length, n)
  if length <= n then
    return s
  end
  return sub(s, 1, utf8.offset(s, n + 1) - 1)
end

local function clean(s)
  local plain, length = plain_string(s)
  if plain == nil then
    return native_clean(s)
  end
  return first(s, length, CLEAN_CHARS)
end

local function width(s)
  local plain, length = nil, nil
  if #s <= MAX_CHARS then
    plain, length = plain_string(s)
  end
  if plain == nil then
    return native_width(s)
  end
  return length
end

-- `s`, `length` characters of one column each, cut to at most `columns` columns with the
-- ellipsis when cut; and the columns the result takes.
local function cut(s, length, columns)
  if columns < 1 then
    return "", 0
  elseif length <= columns then
    return s, length
  end
  return first(s, length, columns - 1) .. ELLIPSIS, columns
end

-- `cell`, taking `used` columns, padded with spaces to `columns`: on the left when `right`.
local function padded(cell, used, columns, right)
  local gap = rep(" ", columns - used)
  if right then
    return gap .. cell
  end
  return cell .. gap
end

-- Clean `s`, cut to at most `columns` columns with the ellipsis when cut.
local function fit_text(s, columns)
  local plain, length = plain_string(s)
  if plain == nil then
    return native_fit(s, columns)
  end
  return (cut(first(s, length, CLEAN_CHARS), math.min(length, CLEAN_CHARS), columns))
end

-- Clean `s`, fitted into exactly `columns` columns, aligned left or right.
local function pad(s, columns, align)
  local plain, length = plain_string(s)
  if plain == nil then
    return native_pad(s, columns, align)
  end
  columns = math.min(columns, MAX_COLUMNS)
  local cell, used = cut(first(s, length, CLEAN_CHARS), math.min(length, CLEAN_CHARS), columns)
  return padded(cell, used, columns, align == "right")
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

-- text.columns ------------------------------------------------------------------------------
-- The common case (cells of text whose characters take one column each, integers, integer
-- widths, a known style) is laid out here; anything else goes to the host, which gives the same
-- answers and the errors.

local MAX_CELLS = 100 -- most columns in one line
local STYLES = { normal = true, dim = true, bold = true, title = true, accent = true, ok = true, warn = true,
                 error = true }
local math_type, rawget, next = math.type, rawget, next

-- A cell's text and its columns when Lua may show it: such a string, an integer or a boolean.
local function plain_text(value)
  local kind = type(value)
  if kind == "string" then
    return plain_string(value)
  elseif kind == "nil" then
    return "", 0
  elseif kind == "boolean" or math_type(value) == "integer" then
    local s = tostring(value)
    return s, #s
  end
  return nil
end

-- A cell's text, columns and style, or nil when the host is to read it: a value, or {text=, style=}.
local function plain_cell(cell)
  if type(cell) ~= "table" then
    local s, length = plain_text(cell)
    return s, length, nil
  end
  for key in next, cell do
    if key ~= "text" and key ~= "style" then
      return nil
    end
  end
  local style = rawget(cell, "style")
  if style ~= nil and not STYLES[style] then
    return nil
  end
  local s, length = plain_text(rawget(cell, "text"))
  return s, length, style
end

-- How many items a plain sequence holds (1..n, nothing else), or nil.
local function sequence_length(t)
  local n = 0
  for key in next, t do
    if math_type(key) ~= "integer" or key < 1 then
      return nil
    end
    n = n + 1
  end
  return rawlen(t) == n and n or nil
end

-- The widths of the columns that fit (see the host's qtui.plugins.runtime.textcells.layout).
local function layout(widths, count, total)
  local kept = {}
  for i = 1, count do
    kept[i] = math.abs(widths[i])
  end
  if total == nil then
    return kept
  end
  local needed = count - 1
  for i = 1, count do
    needed = needed + math.max(kept[i], 1)
  end
  while count > 0 and needed > total do
    needed = needed - math.max(kept[count], 1) - (count > 1 and 1 or 0)
    kept[count] = nil
    count = count - 1
  end
  local flexible, used = 0, count - 1
  for i = 1, count do
    used = used + kept[i]
    if kept[i] == 0 then
      flexible = flexible + 1
    end
  end
  if flexible > 0 then
    local spare = total - used
    local share, extra = spare // flexible, spare % flexible
    for i = 1, count do
      if kept[i] == 0 then
        kept[i] = share + (extra > 0 and 1 or 0)
        extra = extra - 1
      end
    end
  end
  return kept
end

-- The line laid out here, or nil when the host is to do it.
local function plain_columns(cells, widths, total, style)
  if type(cells) ~= "table" or type(widths) ~= "table" or (style ~= nil and not STYLES[style]) then
    return nil
  end
  local count, cell_count = sequence_length(widths), sequence_length(cells)
  -- (an empty line is the host's empty list, which qtui.json.encode tells from a table)
  if count == nil or cell_count == nil or count == 0 or count > MAX_CELLS or cell_count > count then
    return nil
  end
  local flexible = false
  for i = 1, count do
    local w = widths[i]
    if math_type(w) ~= "integer" or w < -MAX_COLUMNS or w > MAX_COLUMNS then
      return nil
    end
    flexible = flexible or w == 0
  end
  if total ~= nil then
    if math_type(total) ~= "integer" then
      return nil
    end
    total = math.max(0, math.min(MAX_COLUMNS, total))
  elseif flexible then
    return nil
  end
  local texts, lengths, styles = {}, {}, {}
  for i = 1, cell_count do
    texts[i], lengths[i], styles[i] = plain_cell(cells[i])
    if texts[i] == nil then
      return nil
    end
  end
  local sizes = layout(widths, count, total)
  if #sizes == 0 then
    return nil
  end
  local line, last_style = {}, false
  for i = 1, #sizes do
    local cell, used = cut(texts[i] or "", lengths[i] or 0, sizes[i])
    local shown = padded(cell, used, sizes[i], widths[i] < 0)
    if i < #sizes then
      shown = shown .. " "
    end
    local span_style = styles[i] or style
    if span_style == "normal" then
      span_style = nil
    end
    local n = #line
    if n > 0 and span_style == last_style then
      local joined = (span_style == nil and line[n] or line[n].text) .. shown
      line[n] = span_style == nil and joined or { text = joined, style = span_style }
    else
      line[n + 1] = span_style == nil and shown or { text = shown, style = span_style }
    end
    last_style = span_style
  end
  return line
end

-- One line of fixed-width columns for qtui.render, as qtui.text.columns lays it out; an error
-- names the caller's line.
function text.columns(cells, widths, width, style)
  local line = plain_columns(cells, widths, width, style)
  if line ~= nil then
    return line
  end
  local ok, result = pcall(native_columns, cells, widths, width, style)
  if not ok then
    error(result, type(result) == "string" and 2 or 0)
  end
  return result
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
