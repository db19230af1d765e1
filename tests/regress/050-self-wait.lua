-- Waiting on a list of tasks that holds the current task deadlocked (gather, first) or
-- cancelled the waiter itself and then hung at shutdown (wait_for): every way of waiting on
-- tasks raises at once, before waiting, as task:await() on itself does; the other tasks of the
-- list are left alone.
local T = require("testlib")

local function check(what, fn, want)
  local ok, err = pcall(fn)
  T.ok(not ok, what .. " raises")
  T.contains(err, want, what)
  T.ok(not err:find("[async]", 1, true), what .. ": the place is the caller's: " .. err)
end

local other = async.spawn(async.sleep, 0.01)

-- in the main task, and in a spawned one: the caller's line is the error's place
for _, where in ipairs({ "main", "spawned" }) do
  local function run()
    local me = async.current()
    check("gather", function() async.gather({ other, me }) end,
      "bad argument #1 to 'gather' (a task cannot await itself: the task at index 2 is the current one)")
    check("first", function() async.first({ me, other }) end,
      "bad argument #1 to 'first' (a task cannot await itself: the task at index 1 is the current one)")
    check("as_completed", function() async.as_completed({ other, me }) end,
      "bad argument #1 to 'as_completed' (a task cannot await itself")
    check("wait_for", function() async.wait_for(me, 5) end,
      "bad argument #1 to 'wait_for' (a task cannot await itself)")
    check("await", function() me:await() end, "a task cannot await itself")
    T.eq(me:status(), "running", where .. ": the waiter was not cancelled")
  end
  if where == "main" then run() else async.spawn(run):await() end
end

T.eq(other:status(), "pending", "the other task was left alone")
T.eq(async.gather({ other })[1], nil, "and can still be gathered")
T.eq(other:status(), "done", "and finishes")

print("ok")
