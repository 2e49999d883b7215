function activate()
  qtui.rendr({"typo"})
  qtui.frobnicate()
  qtui.storage.gett("k")
  qtui.render.lines = 1
  qtui.panel.opne("side")
end
