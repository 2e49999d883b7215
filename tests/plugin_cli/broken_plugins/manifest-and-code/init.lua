function activate()
  qtui.subscribe("stats")
  qtui.notiffy("x")
end
