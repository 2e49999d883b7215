-- Display helpers: make hostile text safe and fit it into a fixed number of terminal columns.
--
-- This module is vendored, byte for byte, into each sample plugin that uses it (a plugin can
-- only require its own files); tests/sample_plugins checks that the copies stay identical.

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

-- Code point ranges a terminal draws two columns wide (East Asian wide and emoji blocks).
local WIDE = {
  {0x1100, 0x115F}, {0x2E80, 0x303E}, {0x3041, 0x33FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
  {0xA000, 0xA4CF}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE30, 0xFE4F}, {0xFF00, 0xFF60},
  {0xFFE0, 0xFFE6}, {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20000, 0x3FFFD},
}

local function char_width(code)
  if (code >= 0x0300 and code <= 0x036F) or code == 0x200B or (code >= 0xFE00 and code <= 0xFE0F) then
    return 0
  end
  if code >= 0x1100 then
    for _, range in ipairs(WIDE) do
      if code >= range[1] and code <= range[2] then
        return 2
      end
    end
  end
  return 1
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
  local columns = 0
  for _, code in utf8.codes(s) do
    columns = columns + char_width(code)
  end
  return columns
end

-- `value` cleaned and cut to at most `columns` columns, with "…" when something was cut.
function text.fit(value, columns)
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

-- `value` fitted into exactly `columns` columns, left-aligned.
function text.left(value, columns)
  local s = text.fit(value, columns)
  return s .. string.rep(" ", columns - text.width(s))
end

-- `value` fitted into exactly `columns` columns, right-aligned.
function text.right(value, columns)
  local s = text.fit(value, columns)
  return string.rep(" ", columns - text.width(s)) .. s
end

-- `value` cleaned and word-wrapped into at most `max_lines` lines of `columns` columns; a word
-- longer than a line is cut, and the last line ends in "…" when text was left out.
function text.wrap(value, columns, max_lines)
  local lines, current, used = {}, nil, 0
  for word in text.clean(value):gmatch("%S+") do
    local w = text.width(word)
    if current ~= nil and used + 1 + w <= columns then
      current, used = current .. " " .. word, used + 1 + w
    else
      lines[#lines + 1] = current
      current = text.fit(word, columns)
      used = text.width(current)
    end
  end
  lines[#lines + 1] = current
  if #lines > max_lines then
    for n = #lines, max_lines + 1, -1 do
      lines[n] = nil
    end
    lines[max_lines] = text.fit(lines[max_lines] .. " …", columns)
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
