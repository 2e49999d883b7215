---@meta qtui.text
-- qtui's library module qtui.text: local text = require("qtui.text")
-- Type definitions for lua-language-server, generated from qtui/plugins/runtime/api.py by
-- `python -m qtui.docs`: do not edit. The module is qtui's code, not the plugin's: see qtui-lua(7).

---Display helpers: make hostile text safe for the terminal and fit it into a fixed number of columns (as the console counts them: East Asian wide characters take two, everything else one).
---@class qtui.text
local text = {}

---`value` as one safe line: cut to 200 characters, control characters and invisible characters (bidi marks, zero-width and other format characters, spaces other than U+0020) shown as '?' (bytes that are not UTF-8 as the replacement character).
---
---Since API 1.0.
---@param value any text, or any value (shown with tostring)
---@return string line # the safe line
function text.clean(value) end

---Terminal columns a string takes once clean (qtui.text.width).
---
---Since API 1.0.
---@param s string a string
---@return integer columns # its width
function text.width(s) end

---`value` cleaned and cut to at most `columns` columns, ending in '…' when something was cut; an empty string for fewer than one column.
---
---Since API 1.0.
---@param value any text, or any value (shown with tostring)
---@param columns integer terminal columns (a fraction is dropped)
---@return string line # the fitted text
function text.fit(value, columns) end

---`value` fitted into exactly `columns` columns, left-aligned (padded with spaces).
---
---Since API 1.0.
---@param value any text, or any value (shown with tostring)
---@param columns integer terminal columns (a fraction is dropped)
---@return string cell # the padded text
function text.left(value, columns) end

---`value` fitted into exactly `columns` columns, right-aligned.
---
---Since API 1.0.
---@param value any text, or any value (shown with tostring)
---@param columns integer terminal columns (a fraction is dropped)
---@return string cell # the padded text
function text.right(value, columns) end

---One line of fixed-width columns for qtui.render, the same as qtui.text.columns gives (see it for the widths); the common case, cells of integers or of text whose characters take one column each (ASCII, Latin letters, punctuation, arrows, box drawing), is laid out in Lua without a call to the host.
---
---Since API 1.1.
---@param cells (string|number|boolean|qtui.Span)[] the cells; missing ones are empty
---@param widths integer[] each column's width
---@param width? integer the line's width, e.g. the panel's (needed for flexible columns)
---@param style? qtui.Style style of the cells that have none
---@return qtui.Line line # the line's spans
function text.columns(cells, widths, width, style) end

---`value` cleaned and word-wrapped into at most `max_lines` lines of `columns` columns; a longer word is cut, and the last line ends in '…' when text was left out.
---
---Since API 1.0.
---@param value any text, or any value (shown with tostring)
---@param columns integer terminal columns (a fraction is dropped)
---@param max_lines integer most lines
---@return string[] lines # the lines
function text.wrap(value, columns, max_lines) end

---The message of an error raised by Lua or the host, without its 'file.lua:line: ' prefix.
---
---Since API 1.0.
---@param err any an error value
---@return string message # the message
function text.message(err) end

---'1 job', '2 jobs': a count and its noun, made plural by `plural` or an added 's'.
---
---Since API 1.0.
---@param n integer the count
---@param noun string singular noun
---@param plural? string plural noun (default: noun .. 's')
---@return string text # e.g. '2 jobs'
function text.count(n, noun, plural) end

---Seconds as a short duration: 42s, 3m05s, 2h07m, 3d04h; '-' for nil, NaN or infinity.
---
---Since API 1.0.
---@param seconds? number seconds
---@return string text # the duration
function text.duration(seconds) end

---Seconds until `duration` shows something else for a wait `seconds` long now, as it grows: at most a second under an hour, a minute under a day, an hour beyond; math.huge for what always shows '-'. With qtui.unchanged_stats, a panel showing waits asks for a look only then.
---
---Since API 1.0.
---@param seconds? number the wait now
---@return number holds # seconds
function text.duration_holds(seconds) end

---A count or rate in at most 6 columns: 7, 12.5, 1234, 12.3k, 4.5M; '-' for nil or NaN.
---
---Since API 1.0.
---@param n? number the number
---@return string text # the number
function text.number(n) end

return text
