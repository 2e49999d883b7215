function activate()
  qtui.jobs.get("42")
end
