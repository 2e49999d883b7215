function activate()
  qtui.notiffy("x")
end
