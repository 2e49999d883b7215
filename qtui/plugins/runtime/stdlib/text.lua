-- qtui.text, part of qtui's library for plugins: require("qtui.text").
--
-- Display helpers: make hostile text safe and fit it into a fixed number of terminal columns.
-- The host's code, not the plugin's: it ships with qtui (a qtui upgrade may change it, as it may
-- change the API), runs in the plugin's own sandbox under the plugin's limits, and the table
-- `require` returns is read-only.

local text = {}

-- Longest input looked at: a cell is never wider than this many characters.
local MAX_CHARS = 200

-- Characters that would move the cursor, change colours or reorder text, as UTF-8 byte
-- patterns: C0 controls and DEL, C1 controls, bidi marks, embeddings, overrides and isolates,
-- line/paragraph separators, the byte-order mark and interlinear annotation marks.
local UNSAFE = {
  "%c",
  "\194[\128-\159]",
  "\216\156",
  "\226\128[\142\143\168-\174]",
  "\226\129[\166-\169]",
  "\239\187\191",
  "\239\191[\185-\187]",
}

-- Code point ranges a terminal draws two columns wide, as a flat list of first, last pairs:
-- the table of wcwidth 0.9.4, which urwid uses to lay out the console. Every other character
-- counts as one column, combining marks and joiners included: that overestimates some
-- sequences (an accent, an emoji with a skin tone) rather than underestimating them, so a
-- fitted line is not drawn wider than counted (tests/sample_plugins checks this with urwid).
local WIDE = {
  0x1100, 0x115F, 0x231A, 0x231B, 0x2329, 0x232A, 0x23E9, 0x23EC, 0x23F0, 0x23F0,
  0x23F3, 0x23F3, 0x25FD, 0x25FE, 0x2614, 0x2615, 0x2630, 0x2637, 0x2648, 0x2653,
  0x267F, 0x267F, 0x268A, 0x268F, 0x2693, 0x2693, 0x26A1, 0x26A1, 0x26AA, 0x26AB,
  0x26BD, 0x26BE, 0x26C4, 0x26C5, 0x26CE, 0x26CE, 0x26D4, 0x26D4, 0x26EA, 0x26EA,
  0x26F2, 0x26F3, 0x26F5, 0x26F5, 0x26FA, 0x26FA, 0x26FD, 0x26FD, 0x2705, 0x2705,
  0x270A, 0x270B, 0x2728, 0x2728, 0x274C, 0x274C, 0x274E, 0x274E, 0x2753, 0x2755,
  0x2757, 0x2757, 0x2795, 0x2797, 0x27B0, 0x27B0, 0x27BF, 0x27BF, 0x2B1B, 0x2B1C,
  0x2B50, 0x2B50, 0x2B55, 0x2B55, 0x2E80, 0x2E99, 0x2E9B, 0x2EF3, 0x2F00, 0x2FD5,
  0x2FF0, 0x3029, 0x3030, 0x303E, 0x3041, 0x3096, 0x309B, 0x30FF, 0x3105, 0x312F,
  0x3131, 0x3163, 0x3165, 0x318E, 0x3190, 0x31E5, 0x31EF, 0x321E, 0x3220, 0x3247,
  0x3250, 0xA48C, 0xA490, 0xA4C6, 0xA960, 0xA97C, 0xAC00, 0xD7A3, 0xF900, 0xFAFF,
  0xFE10, 0xFE19, 0xFE30, 0xFE52, 0xFE54, 0xFE66, 0xFE68, 0xFE6B, 0xFF01, 0xFF60,
  0xFFE0, 0xFFE6, 0x16FE0, 0x16FE3, 0x16FF2, 0x16FF6, 0x17000, 0x18CDA, 0x18CFF, 0x18D20,
  0x18D80, 0x18DF2, 0x18E00, 0x19191, 0x191A0, 0x191D2, 0x1AFF0, 0x1AFF3, 0x1AFF5, 0x1AFFB,
  0x1AFFD, 0x1AFFE, 0x1B000, 0x1B128, 0x1B132, 0x1B132, 0x1B150, 0x1B152, 0x1B155, 0x1B155,
  0x1B164, 0x1B168, 0x1B170, 0x1B2FB, 0x1D300, 0x1D356, 0x1D360, 0x1D376, 0x1F004, 0x1F004,
  0x1F0CF, 0x1F0CF, 0x1F18E, 0x1F18E, 0x1F191, 0x1F19A, 0x1F1AE, 0x1F1AE, 0x1F1E6, 0x1F202,
  0x1F210, 0x1F23B, 0x1F240, 0x1F248, 0x1F250, 0x1F251, 0x1F260, 0x1F265, 0x1F300, 0x1F320,
  0x1F32D, 0x1F335, 0x1F337, 0x1F37C, 0x1F37E, 0x1F393, 0x1F3A0, 0x1F3CA, 0x1F3CF, 0x1F3D3,
  0x1F3E0, 0x1F3F0, 0x1F3F4, 0x1F3F4, 0x1F3F8, 0x1F43E, 0x1F440, 0x1F440, 0x1F442, 0x1F4FC,
  0x1F4FF, 0x1F53D, 0x1F54B, 0x1F54E, 0x1F550, 0x1F567, 0x1F57A, 0x1F57A, 0x1F595, 0x1F596,
  0x1F5A4, 0x1F5A4, 0x1F5FB, 0x1F64F, 0x1F680, 0x1F6C5, 0x1F6CC, 0x1F6CC, 0x1F6D0, 0x1F6D2,
  0x1F6D5, 0x1F6D9, 0x1F6DC, 0x1F6DF, 0x1F6EB, 0x1F6EC, 0x1F6F4, 0x1F6FC, 0x1F7DA, 0x1F7DA,
  0x1F7E0, 0x1F7EB, 0x1F7F0, 0x1F7F0, 0x1F90C, 0x1F93A, 0x1F93C, 0x1F945, 0x1F947, 0x1F9FF,
  0x1FA70, 0x1FA7C, 0x1FA80, 0x1FAC6, 0x1FAC8, 0x1FAC8, 0x1FACC, 0x1FADD, 0x1FADF, 0x1FAEB,
  0x1FAEF, 0x1FAFA, 0x20000, 0x2FFFD, 0x30000, 0x3FFFD,
}

local function in_ranges(ranges, code)
  local low, high = 1, #ranges // 2
  while low <= high do
    local middle = (low + high) // 2
    if code < ranges[2 * middle - 1] then
      high = middle - 1
    elseif code > ranges[2 * middle] then
      low = middle + 1
    else
      return true
    end
  end
  return false
end

local function char_width(code)
  if code >= 0x1100 and in_ranges(WIDE, code) then
    return 2
  end
  return 1
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

-- `value` as one safe line: tostring'd, cut to MAX_CHARS characters, unsafe characters and
-- invalid UTF-8 bytes shown as "?".
function text.clean(value)
  local s = tostring(value):sub(1, 4 * MAX_CHARS)
  if utf8.len(s) == nil then
    -- A character cut in half at the end, or bytes that are not UTF-8 at all.
    s = s:gsub("[\192-\255][\128-\191]*$", "")
    if utf8.len(s) == nil then
      s = s:gsub("[\128-\255]", "?")
    end
  end
  local cut = utf8.offset(s, MAX_CHARS + 1)
  if cut ~= nil then
    s = s:sub(1, cut - 1)
  end
  for _, pattern in ipairs(UNSAFE) do
    s = s:gsub(pattern, "?")
  end
  return s
end

-- Terminal columns taken by a clean string.
function text.width(s)
  if type(s) ~= "string" then
    error("bad argument #1 to 'qtui.text.width' (string expected, got " .. type(s) .. ")", 2)
  end
  local columns = 0
  for _, code in utf8.codes(s) do
    columns = columns + char_width(code)
  end
  return columns
end

-- text.fit, `columns` already checked to be a whole number.
local function fit(value, columns)
  if columns < 1 then
    return ""
  end
  local s = text.clean(value)
  if text.width(s) <= columns then
    return s
  end
  local parts, used = {}, 0
  for _, code in utf8.codes(s) do
    local w = char_width(code)
    if used + w > columns - 1 then
      break
    end
    parts[#parts + 1] = utf8.char(code)
    used = used + w
  end
  return table.concat(parts) .. "…"
end

-- `value` cleaned and cut to at most `columns` columns, with "…" when something was cut
-- (nothing fits in fewer than one column).
function text.fit(value, columns)
  return fit(value, whole("fit", 2, columns))
end

-- `value` fitted into exactly `columns` columns, left-aligned.
function text.left(value, columns)
  columns = whole("left", 2, columns)
  local s = fit(value, columns)
  return s .. string.rep(" ", columns - text.width(s))
end

-- `value` fitted into exactly `columns` columns, right-aligned.
function text.right(value, columns)
  columns = whole("right", 2, columns)
  local s = fit(value, columns)
  return string.rep(" ", columns - text.width(s)) .. s
end

-- `value` cleaned and word-wrapped into at most `max_lines` lines of `columns` columns; a word
-- longer than a line is cut, and the last line ends in "…" when text was left out.
function text.wrap(value, columns, max_lines)
  columns, max_lines = whole("wrap", 2, columns), whole("wrap", 3, max_lines)
  if max_lines < 1 then
    return {}
  end
  local lines, current, used = {}, nil, 0
  for word in text.clean(value):gmatch("%S+") do
    local w = text.width(word)
    if current ~= nil and used + 1 + w <= columns then
      current, used = current .. " " .. word, used + 1 + w
    else
      lines[#lines + 1] = current
      current = fit(word, columns)
      used = text.width(current)
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

-- A number of seconds as a short duration: 42s, 3m05s, 2h07m, 3d04h.
function text.duration(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds then
    return "-"
  end
  local s = math.max(0, math.floor(seconds + 0.5))
  if s < 60 then
    return string.format("%ds", s)
  elseif s < 3600 then
    return string.format("%dm%02ds", s // 60, s % 60)
  elseif s < 86400 then
    return string.format("%dh%02dm", s // 3600, s % 3600 // 60)
  end
  return string.format("%dd%02dh", s // 86400, s % 86400 // 3600)
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
