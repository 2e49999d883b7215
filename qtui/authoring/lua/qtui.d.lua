---@meta
-- qtui plugin host API 1.1.0: type definitions for lua-language-server.
-- Generated from qtui/plugins/runtime/api.py by `python -m qtui.docs`: do not edit.
-- The reference with examples: qtui-lua(7), or `:help api` in the console.

---A span style from the console's fixed palette.
---@alias qtui.Style
---| "normal"
---| "dim"
---| "bold"
---| "title"
---| "accent"
---| "ok"
---| "warn"
---| "error"

---Where a job is in its life.
---@alias qtui.JobState
---| "ready"
---| "scheduled"
---| "processing"
---| "completed"
---| "dead"

---A capability a plugin requests in its manifest.
---@alias qtui.Capability
---| "stats.read" # read queue names, job counts, rates and workers
---| "selection.read" # read the selected queue or job id and the keys and clicks given to its panel
---| "timers" # run its code periodically on a timer
---| "notify" # show messages in the console's status line
---| "commands" # add commands to the command palette and bind keys to them
---| "storage" # keep a small amount of its own data between sessions
---| "bus.publish" # publish messages to topics other plugins and the console listen to
---| "bus.subscribe" # listen to topics of the console and other plugins
---| "jobs.peek" # read jobs, including their payloads (which may hold personal data or secrets)
---| "jobs.enqueue" # add new jobs to queues
---| "jobs.requeue" # move dead or scheduled jobs back to run again
---| "jobs.purge" # delete jobs permanently
---| "keys.read" # see every key you press in the console, wherever the focus is (not what you type in dialogs, on the command line or into another plugin's panel)

---A line of a panel: a list of spans (a string is a span in the normal style).
---@alias qtui.Line
---| (string|qtui.Span)[]

---A piece of a rendered line in one style; a plain string is a span in the normal style.
---@class qtui.Span
---@field text? string the text (default empty); control characters are shown as visible notation
---@field style? qtui.Style one of the styles (default normal)

---What activate(ctx) receives.
---@class qtui.Context
---@field name string the plugin's name
---@field version string the plugin's version
---@field api string the host API version qtui implements, e.g. '1.1.0'
---@field settings table<string, string|number|boolean> the current settings, name to value
---@field granted qtui.Capability[] the capabilities the plugin may use now
---@field state? table what the previous version's deactivate returned (a reload), else nil

---Which jobs qtui.jobs.peek asks for.
---@class qtui.PeekQuery
---@field queue? string queue name, or 'all' (the default) for every queue
---@field state? qtui.JobState job state (default ready)
---@field text? string keep jobs whose payload or last error contains this (any case)
---@field cursor? string the next_cursor of the previous page
---@field limit? integer jobs per page, 1 to 500 (default 50)

---Which dead jobs qtui.jobs.requeue moves back to ready: ids, or a filter (queue and text; neither means every dead job), not both.
---@class qtui.RequeueSelection
---@field ids? string[] these jobs (at most 10000; those not dead are left alone)
---@field queue? string dead jobs of this queue
---@field text? string dead jobs whose payload or last error contains this
---@field to? string the queue they go to (default: each job's own)

---One queue in a 'stats' event.
---@class qtui.QueueStats
---@field name string queue name
---@field ready integer jobs ready
---@field scheduled integer jobs scheduled
---@field processing integer jobs processing
---@field completed integer jobs completed
---@field dead integer jobs dead
---@field enqueued_per_min number jobs enqueued over the last minute
---@field completed_per_min number jobs completed over the last minute
---@field failed_per_min number failed attempts over the last minute
---@field oldest_ready_age? number seconds the oldest ready job has waited
---@field changed? boolean true when the queue is new or a count, a rate or its oldest ready job changed since the stats event the plugin received before (the age growing is no change)

---A job, in the result of a peek, find or enqueue request.
---@class qtui.Job
---@field id string job id
---@field queue string queue name
---@field state qtui.JobState where the job is in its life
---@field payload string the payload as stored, normally JSON text (cut at 64 KiB)
---@field payload_truncated? boolean true when the payload was longer and has been cut
---@field priority integer priority (higher runs first)
---@field attempts integer attempts made so far
---@field max_attempts? integer attempts allowed before the job goes dead
---@field last_error? string the error of the last failed attempt
---@field worker? string the worker holding or last holding the job
---@field created_at? number Unix time it was enqueued
---@field updated_at? number Unix time of its last change
---@field run_at? number Unix time a scheduled job becomes ready
---@field lease_until? number Unix time a processing job's lease expires
---@field finished_at? number Unix time it completed or went dead
---@field origin? string the queue it was first enqueued on, if it moved
---@field extra table<string, string> backend-specific fields, for display

---The result of a peek request.
---@class qtui.PeekResult
---@field jobs qtui.Job[] the page of jobs, oldest first
---@field next_cursor? string cursor of the next page; nil on the last page

---The result of a requeue or purge request.
---@class qtui.CountResult
---@field count integer how many jobs were requeued or deleted

---Which jobs qtui.jobs.oldest asks for.
---@class qtui.OldestQuery
---@field queue? string queue name, or 'all' (the default) for every queue
---@field state? qtui.JobState job state (default ready)

---The result of an oldest request.
---@class qtui.OldestResult
---@field jobs qtui.Job[] the oldest job of each queue that has one in the state, by queue name

---Which jobs qtui.jobs.count_by counts, and by what.
---@class qtui.CountQuery
---@field field string the payload field: keys separated by dots, e.g. 'tenant' or 'meta.tenant'
---@field queue? string queue name, or 'all' (the default) for every queue
---@field state? qtui.JobState job state (default ready)
---@field older_than? number a Unix time: each group also counts its jobs created before it
---@field limit? integer most jobs looked at, the oldest first (default 10000, at most 50000)

---Jobs whose payloads give one value for the field.
---@class qtui.Group
---@field value? string the field's value as text (numbers as written shortest, booleans as 'true' or 'false'); nil for payloads without such a field or where it is not a string, number or boolean
---@field count integer jobs in the group
---@field oldest? number Unix time the group's oldest job was created
---@field older integer jobs of the group created before older_than (0 without it)

---The result of a count_by request.
---@class qtui.CountByResult
---@field groups qtui.Group[] one group per value, the most jobs first (at most 1000)
---@field scanned integer jobs looked at
---@field unreadable integer of those, payloads that are not JSON or longer than 64 KiB
---@field others integer jobs in further groups, beyond the first 1000
---@field complete boolean whether every job in the state was looked at
---@field newest? number Unix time the newest job looked at was created: when the count is not complete, every job not looked at is newer

---qtui.json.null: JSON's null where Lua needs a value (an item of a list). Compare with ==; it is read-only and tostring gives 'null'.
---@class qtui.json.Null

---How a panel opened with qtui.panel.open is shown (since 1.1).
---@class qtui.PanelOptions
---@field title? string its title, up to 80 characters (default: its name)
---@field rows? integer preferred height, 1 to 200

---The row under the cursor when the operator ran a command (since 1.1).
---@class qtui.Row
---@field screen string queues, jobs, dead, workers, detail or plugins
---@field queue? string the selected queue
---@field state? qtui.JobState the job state shown
---@field job_id? string the selected job

---A fresh snapshot of every queue, after each poll of the backend. It says what changed since the stats event the plugin received before (with `changed` on the rows and `removed`), so a plugin need not compare snapshots itself. With qtui.unchanged_stats, snapshots in which only time passed come less often.
---@class qtui.StatsEvent
---@field type "stats"
---@field queues qtui.QueueStats[] per queue: name, ready, scheduled, processing, completed, dead, enqueued_per_min, completed_per_min, failed_per_min, oldest_ready_age (seconds or nil), changed (true or nil)
---@field removed string[] queues gone since the stats event the plugin received before
---@field workers_alive integer workers seen recently
---@field workers_seen integer workers known
---@field taken_at number Unix time of the snapshot

---The operator moved the cursor in the console.
---@class qtui.SelectionEvent
---@field type "selection"
---@field screen string queues, jobs, dead, workers or detail
---@field queue? string selected queue
---@field state? string job state shown
---@field job_id? string selected job

---A key pressed while one of the plugin's panels has focus.
---@class qtui.KeyEvent
---@field type "key"
---@field key string key name, e.g. 'a', 'enter', 'up', 'ctrl r'
---@field panel string since 1.1: which panel, 'main' or a name given to qtui.panel.open

---A mouse click in one of the plugin's panels (when the console uses the mouse).
---@class qtui.MouseEvent
---@field type "mouse"
---@field action string press or release
---@field button integer 1 left, 2 middle, 3 right
---@field column integer 0-based column in the panel
---@field row integer 0-based row
---@field panel string since 1.1: which panel, 'main' or a name given to qtui.panel.open

---A timer started with qtui.every or qtui.after fired.
---@class qtui.TimerEvent
---@field type "timer"
---@field name string timer name
---@field at number Unix time

---The operator ran one of the plugin's commands, by its key or on the command line.
---@class qtui.CommandEvent
---@field type "command"
---@field name string command name
---@field args string the rest of the command line
---@field row? qtui.Row since 1.1: the row under the cursor when it was run (the operator handed it to the command); nil where nothing is selected

---A message on a topic the plugin listens to.
---@class qtui.MessageEvent
---@field type "message"
---@field topic string topic
---@field sender string sending plugin
---@field data any data

---Another plugin started, stopped, errored or was quarantined.
---@class qtui.LifecycleEvent
---@field type "lifecycle"
---@field plugin string its name
---@field version string its version
---@field state string running, stopped, errored or quarantined
---@field reason? string why, when it stopped abnormally

---One of the plugin's panels was shown or changed size (docked, resized or opened full screen): lay lines out for this width; longer lines are clipped.
---@class qtui.ResizeEvent
---@field type "resize"
---@field width integer columns of the panel
---@field height integer rows for the plugin's lines
---@field panel string since 1.1: which panel, 'main' or a name given to qtui.panel.open

---The operator changed the plugin's settings.
---@class qtui.SettingsEvent
---@field type "settings"
---@field settings table<string, any> all settings, name to value

---The result of a qtui.jobs request.
---@class qtui.ActionEvent
---@field type "action"
---@field id integer the request id
---@field action string peek, find, enqueue, requeue, purge, oldest or count_by
---@field ok boolean whether it succeeded
---@field error? string why it failed or was refused
---@field result any peek: {jobs=, next_cursor=}; find: a job or nil; enqueue: the job; requeue and purge: {count=}; oldest: {jobs=}; count_by: {groups=, scanned=, unreadable=, others=, complete=, newest=}

---Since 1.1: a key the operator pressed anywhere in the console, after the console acted on it; not keys typed in dialogs, on the command line or into another plugin's panel.
---@class qtui.Console_keyEvent
---@field type "console_key"
---@field key string key name, e.g. 'j', 'enter', 'ctrl r'
---@field screen string where the operator was: queues, jobs, dead, workers, plugins, detail, help, or panel (the plugin's own)

---An event given to on_event; `event.type` tells which (and narrows the type).
---@alias qtui.Event
---| qtui.StatsEvent # stats
---| qtui.SelectionEvent # selection
---| qtui.KeyEvent # key
---| qtui.MouseEvent # mouse
---| qtui.TimerEvent # timer
---| qtui.CommandEvent # command
---| qtui.MessageEvent # message
---| qtui.LifecycleEvent # lifecycle
---| qtui.ResizeEvent # resize
---| qtui.SettingsEvent # settings
---| qtui.ActionEvent # action
---| qtui.Console_keyEvent # console_key

---The host API: functions a plugin calls. See qtui-lua(7).
qtui = {}

---Requests to the queue backend: each returns a request id, and its result arrives later as an 'action' event with that id.
qtui.jobs = {}

---The plugin's own persistent storage (plain data, capped in size).
qtui.storage = {}

---JSON, read and written by the host within the plugin's limits.
qtui.json = {}

---Text made safe and fitted to columns as the terminal draws them.
qtui.text = {}

---Panels besides the main one, opened and closed at run time (since 1.1).
qtui.panel = {}

---Receive events of these types in on_event. Refused for a type whose capability was not granted.
---
---Needs the capability of each event type it names (see the events). Since API 1.0.
---@param ... string event types, e.g. 'stats', 'timer'
function qtui.subscribe(...) end

---Stop receiving events of these types.
---
---Needs no capability. Since API 1.0.
---@param ... string event types
function qtui.unsubscribe(...) end

---Let stats events in which nothing changed but the time (no queue's counts, rates or oldest ready job, no queue came or went, the same workers) reach on_event at most once every `seconds`, counted on taken_at from the stats event the plugin received last; any other stats event comes at once, and so does one published while the plugin still has other events to handle. 0, the default, delivers every poll. A plugin whose panel changes with time alone (an age shown, a minute charted) says here when it next needs a look, and costs nothing while the queues stand still.
---
---Needs no capability. Since API 1.1.
---@param seconds number 0 to 3600
function qtui.unchanged_stats(seconds) end

---Replace the panel's content. A line is a string or a list of spans; a span is a string or {text=, style=} with a style from the fixed palette. Control characters are shown as visible notation.
---
---Needs no capability. Since API 1.0.
---@param lines (string|qtui.Span[])[] the panel's lines
---@param panel? string which panel (since 1.1): 'main', the default, or one opened with qtui.panel.open
function qtui.render(lines, panel) end

---Show a message in the console's status bar.
---
---Needs the `notify` capability. Since API 1.0.
---@param text string the message
---@param level? string info (default), warning or error
function qtui.notify(text, level) end

---Write a line to the plugin's log (print does the same at info level).
---
---Needs no capability. Since API 1.0.
---@param level string debug, info, warning or error
---@param text string the line
function qtui.log(level, text) end

---Start (or restart) a repeating timer; a 'timer' event with this name arrives every `seconds`.
---
---Needs the `timers` capability. Since API 1.0.
---@param name string timer name
---@param seconds number interval, at least 0.1
function qtui.every(name, seconds) end

---Start (or restart) a one-shot timer.
---
---Needs the `timers` capability. Since API 1.0.
---@param name string timer name
---@param seconds number delay, at least 0.1
function qtui.after(name, seconds) end

---Stop a timer.
---
---Needs the `timers` capability. Since API 1.0.
---@param name string timer name
function qtui.cancel(name) end

---Register a command for the console's : command line, run as ':PLUGIN.NAME args'; each use arrives as a 'command' event.
---
---Needs the `commands` capability. Since API 1.0.
---@param name string command name: letters, digits, -
---@param help string one line of help
function qtui.command(name, help) end

---The current value of one setting from the manifest's schema.
---
---Needs no capability. Since API 1.0.
---@param name string setting name
---@return string|number|boolean value # its value
function qtui.setting(name) end

---All settings as a table.
---
---Needs no capability. Since API 1.0.
---@return table<string, any> settings # name to value
function qtui.settings() end

---A value from the plugin's persistent storage, or nil.
---
---Needs the `storage` capability. Since API 1.0.
---@param key string key
---@return any value # the stored value
function qtui.storage.get(key) end

---Store a value (plain data); the whole storage is capped in size.
---
---Needs the `storage` capability. Since API 1.0.
---@param key string key
---@param value any plain data; nil deletes
function qtui.storage.set(key, value) end

---Every key in storage.
---
---Needs the `storage` capability. Since API 1.0.
---@return string[] keys # keys, sorted
function qtui.storage.keys() end

---Send a message on a topic. Topics under 'plugin.<own name>.' are the plugin's own; others need the bus.publish capability.
---
---Needs `bus.publish`, except on topics under the plugin's own prefix `plugin.NAME`. Since API 1.0.
---@param topic string dotted topic
---@param data any plain data
function qtui.publish(topic, data) end

---Receive 'message' events on topics starting with this prefix (other plugins' own topics and global topics need bus.subscribe).
---
---Needs `bus.subscribe`, except for prefixes under the plugin's own `plugin.NAME`. Since API 1.0.
---@param prefix string topic prefix
function qtui.listen(prefix) end

---Request a page of jobs in one state, oldest first.
---
---Needs the `jobs.peek` capability. Since API 1.0.
---@param query qtui.PeekQuery {queue=, state=, text=, cursor=, limit=}
---@return integer request # id of the request; its result arrives as an 'action' event with this id
function qtui.jobs.peek(query) end

---Request one job by id.
---
---Needs the `jobs.peek` capability. Since API 1.0.
---@param id string job id
---@return integer request # id of the request; its result arrives as an 'action' event with this id
function qtui.jobs.find(id) end

---Request a new job.
---
---Needs the `jobs.enqueue` capability. Since API 1.0.
---@param queue string queue name
---@param payload any plain data, sent as JSON
---@return integer request # id of the request; its result arrives as an 'action' event with this id
function qtui.jobs.enqueue(queue, payload) end

---Request that dead jobs go back to a queue: {ids=} or {queue=, text=}, and optionally to=. The operator is asked to confirm unless they chose not to be.
---
---Needs the `jobs.requeue` capability. Since API 1.0.
---@param selection qtui.RequeueSelection {ids=} or {queue=, text=}, to=
---@return integer request # id of the request; its result arrives as an 'action' event with this id
function qtui.jobs.requeue(selection) end

---Request deleting every job in a state of a queue ('all' for every queue). The operator is asked to confirm unless they chose not to be.
---
---Needs the `jobs.purge` capability. Since API 1.0.
---@param queue string queue name or 'all'
---@param state string ready, scheduled, completed or dead
---@return integer request # id of the request; its result arrives as an 'action' event with this id
function qtui.jobs.purge(queue, state) end

---Request the oldest job in a state of each queue, found by the backend (an index where it has one) instead of paging through jobs.
---
---Needs the `jobs.peek` capability. Since API 1.1.
---@param query qtui.OldestQuery {queue=, state=}
---@return integer request # id of the request; its result arrives as an 'action' event with this id
function qtui.jobs.oldest(query) end

---Request the jobs in a state counted by a field of their JSON payload (a tenant, a customer): the backend reads the payloads of the oldest jobs, at most `limit` of them, and sends back one group per value, with its oldest job's age. Nothing is parsed in Lua.
---
---Needs the `jobs.peek` capability. Since API 1.1.
---@param query qtui.CountQuery {queue=, state=, field=, older_than=, limit=}
---@return integer request # id of the request; its result arrives as an 'action' event with this id
function qtui.jobs.count_by(query) end

---The value of a JSON text, parsed by the host: objects and arrays become tables (a null member of an object is left out; a null item of an array, or a text that is only null, is qtui.json.null), numbers without a fraction or exponent that fit in 64 bits become integers. Raises an error naming the byte where the text stops being JSON; the text's size, its nesting and its number of entries are bounded by the plugin's limits.
---
---Needs no capability. Since API 1.1.
---@param text string JSON text
---@return any value # the decoded value
function qtui.json.decode(text) end

---Compact JSON text of a value, keys sorted: a table that is a sequence (or an empty list from the host) is an array, any other table an object (integer keys become text; an empty table is {}); qtui.json.null is null. Raises an error for a function, NaN or an infinite number, and for a value deeper or larger than the plugin's limits.
---
---Needs no capability. Since API 1.1.
---@param value any plain data
---@return string text # the JSON text
function qtui.json.encode(value) end

---The columns a value takes on the terminal once made safe (as qtui.render shows it): a wide East Asian character takes two, every other character one.
---
---Needs no capability. Since API 1.1.
---@param value string|number|boolean the text (numbers and booleans as tostring shows them)
---@return integer columns # its width
function qtui.text.width(value) end

---A value made safe (control characters and bidi marks as '?') and cut to at most `columns` columns, ending in '…' when something was cut.
---
---Needs no capability. Since API 1.1.
---@param value string|number|boolean the text
---@param columns integer most columns
---@return string text # the fitted text
function qtui.text.fit(value, columns) end

---A value fitted into exactly `columns` columns and aligned with spaces.
---
---Needs no capability. Since API 1.1.
---@param value string|number|boolean the text
---@param columns integer columns
---@param align? string left (default), right or center
---@return string text # the padded text
function qtui.text.pad(value, columns, align) end

---One line of a table, ready for qtui.render: each cell fitted and padded to its column's width, columns separated by a space. A positive width left-aligns its cell, a negative one right-aligns it, 0 makes the column flexible. Given the line's width, the flexible columns share what is left and the columns that do not fit whole are left out (the last first), so nothing is ever clipped.
---
---Needs no capability. Since API 1.1.
---@param cells (string|number|boolean|qtui.Span)[] the cells; missing ones are empty
---@param widths integer[] each column's width
---@param width? integer the line's width, e.g. the panel's (needed for flexible columns)
---@param style? qtui.Style style of the cells that have none
---@return qtui.Line line # the line's spans
function qtui.text.columns(cells, widths, width, style) end

---Change some of the plugin's own settings, checked against the manifest's schema like the operator's values and kept with them (the operator sees and may change them again). Nothing changes unless every value is valid; no settings event follows.
---
---Needs no capability. Since API 1.1.
---@param changes table<string, string|number|boolean> setting names and their new values
---@return table<string, string|number|boolean> settings # every setting after the change
function qtui.update_settings(changes) end

---The text of a file of the plugin's own folder (as read and hashed when it was loaded: the operator's decisions cover it). Read-only; at most 256 KiB, UTF-8.
---
---Needs no capability. Since API 1.1.
---@param path string relative path inside the plugin folder, e.g. 'data/regions.json'
---@return string text # the file's content
function qtui.asset(path) end

---Open another panel of the plugin in the console's dock (or change the title and height of one that is open): its own zone, drawn with qtui.render(lines, name), with its own key, mouse and resize events. At most 8 besides 'main'.
---
---Needs no capability. Since API 1.1.
---@param name string panel name: lowercase letters, digits and -, not 'main'
---@param options? qtui.PanelOptions {title=, rows=}
function qtui.panel.open(name, options) end

---Close a panel opened with qtui.panel.open.
---
---Needs no capability. Since API 1.1.
---@param name string panel name
function qtui.panel.close(name) end

---What qtui.json.decode gives for a null item of an array (a nil would end the list there) and for a text that is only null; qtui.json.encode writes it as null. Compare with ==; it is read-only and tostring gives 'null'.
---
---Since API 1.1.
---@type qtui.json.Null
qtui.json.null = {}

---Callbacks: global functions a plugin may define; qtui calls them.

---Called once after loading; ctx = {name, version, api, settings, granted, state}. `state` is what the previous version's deactivate returned (hot reload), else nil.
---@param ctx qtui.Context the plugin's context
function activate(ctx) end

---Called for each event, in order.
---@param event qtui.Event the event
function on_event(event) end

---Called before the plugin stops or is replaced; may return a small table handed to the next version's activate as ctx.state.
---@return table? state # state to keep
function deactivate() end
