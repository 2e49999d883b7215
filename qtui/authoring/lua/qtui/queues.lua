---@meta qtui.queues
-- qtui's library module qtui.queues: local queues = require("qtui.queues")
-- Type definitions for lua-language-server, generated from qtui/plugins/runtime/api.py by
-- `python -m qtui.docs`: do not edit. The module is qtui's code, not the plugin's: see qtui-lua(7).

---Which queues a plugin watches, from a setting such as 'email, sms, billing-*'.
---@class qtui.queues
local queues = {}

---A function telling whether a queue name is watched: `spec` lists names separated by commas, a name ending in * matches every queue starting with the rest, and an empty or missing spec matches every queue.
---
---Since API 1.0.
---@param spec? string the names, e.g. 'email, billing-*'
---@return fun(queue: string): boolean watched # true for a watched queue name
---@return integer count # how many names the spec lists
function queues.matcher(spec) end

return queues
