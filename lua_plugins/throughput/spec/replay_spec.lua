-- throughput on a recorded console: demo-recording.jsonl was made with `qtui record` on `qtui demo`.
-- `qtui plugin test lua_plugins/throughput --replay FILE` replays FILE instead and prints the panel.

local RECORDING = qtest.recording or "demo-recording.jsonl"

describe("throughput replaying a recorded console", function()
  it("charts the recorded rates, the latest reading standing for the minute", function()
    local p = qtest.load{ recording = RECORDING }
    local received = p:replay()
    assert.equals(0, p:errors())
    if qtest.recording then
      print(string.format("%d events replayed", received))
      for _, line in ipairs(p:text()) do print(line) end
      return
    end
    assert.equals(5, received) -- the statistics; it subscribes to nothing else
    local lines = p:text()
    assert.matches("^email +done +█ +21/m +peak 21$", lines[3])
    assert.matches("^ +fail +█ +5/m +peak 5$", lines[4])
    assert.matches("^reports +done +█ +3/m +peak 3$", lines[5])
  end)
end)
