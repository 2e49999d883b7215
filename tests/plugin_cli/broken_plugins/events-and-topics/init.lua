function activate()
  qtui.subscribe("selection", "stats")
  qtui.subscribe "console_key"
  qtui.subscribe("stat", "lifecycle")
  qtui.subscribe("timer")
  qtui.publish("plugin.events-and-topics.ready", true)
  qtui.publish("alerts.disk", {full = true})
  qtui.listen("plugin.other.")
end
