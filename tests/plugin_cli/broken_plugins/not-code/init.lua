--[[ A comment naming qtui.notiffy and qtui.jobs.purge is not code.
]]
--[==[ neither is qtui.frobnicate ]==]
local help = "run qtui.jobs.requeue yourself"  -- nor qtui.rendr in a comment
local long = [[
qtui.storage.set("x", 1)
]]
local t = {qtui = 1}
local x = t.qtui
function activate() qtui.render({help, long, tostring(x)}) end
