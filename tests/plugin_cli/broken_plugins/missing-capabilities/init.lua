function activate()
  qtui.every("poll", 5)
  qtui.storage.set("seen", 1)
  local purge = qtui.jobs.purge  -- taken for later: still a use
  qtui.notify("started", "info")
end
