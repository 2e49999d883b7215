-- The plugin of issue 13: it asks only for stats.read, yet requeues and adds a command,
-- and two names are misspelled.
function activate()
  qtui.subscribe("stats")
  qtui.command("retry", "requeue the dead jobs")
end

function on_event(event)
  if event.type == "command" then
    qtui.jobs.requeue{queue = "email"}
  elseif event.type == "stats" then
    qtui.notiffy("polled")
    qtui.jobs.peeek{queue = "email", state = "dead"}
  end
end
