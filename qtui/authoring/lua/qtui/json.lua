---@meta qtui.json
-- qtui's library module qtui.json: local json = require("qtui.json")
-- Type definitions for lua-language-server, generated from qtui/plugins/runtime/api.py by
-- `python -m qtui.docs`: do not edit. The module is qtui's code, not the plugin's: see qtui-lua(7).

---Work left for the json.field lookups of one call (json.budget).
---@class qtui.json.Budget
---@field cost number work left, in the units of json.MAX_COST; each lookup lowers it

---JSON for hostile payloads: read one field within a fixed amount of work, or decode a whole text.
---@class qtui.json
---@field MAX_BYTES integer bytes of a payload json.field looks at (8192)
---@field MAX_COST integer work allowed per json.field lookup (5000 units: a bracket or quote skipped is one, a library call ten)
---@field MAX_DEPTH integer deepest nesting of arrays and objects json.decode accepts (32)
---@field null qtui.json.Null what json.decode gives for a null in an array: qtui.json.null
local json = {}

---The value at a dotted path (e.g. 'meta.tenant') of the JSON object in `payload`, as text (numbers as written, booleans as 'true' or 'false'); nil when the payload is not such an object or the field is missing or not a string, number or boolean. Never fails; reads at most MAX_BYTES of the payload and does at most MAX_COST work (less when `budget` has less left). Duplicate keys: the last one counts.
---
---Since API 1.0.
---@param payload any the payload text; anything else gives nil
---@param path string dot-separated keys
---@param budget? qtui.json.Budget work shared by the lookups of one call (json.budget)
---@return string? value # the field's value as text
---@return boolean complete # false when the payload could not be read completely (longer than MAX_BYTES, costlier than MAX_COST, or the budget spent)
function json.field(payload, path, budget) end

---A budget of work for the json.field lookups of one call, so that a page of hostile payloads costs a bounded amount whatever their size.
---
---Since API 1.0.
---@param cost number work allowed, in the units of MAX_COST
---@return qtui.json.Budget budget # {cost=}: what is left, lowered by each lookup
function json.budget(cost) end

---The value of a JSON text, parsed by the host as qtui.json.decode does: objects and arrays become tables (a null field of an object is left out; a null in an array, or a text that is just null, is json.null); numbers without a fraction or exponent that fit in 64 bits become integers. Text that is not JSON (or nested deeper than MAX_DEPTH, or too big for the plugin's limits) gives nil and a message saying why, naming the byte where it goes wrong.
---
---Since API 1.0.
---@param text string JSON text
---@return any value # the decoded value, or nil
---@return string? error # why the text is not JSON, e.g. 'qtui.json.decode: invalid number at byte 7'
function json.decode(text) end

return json
