-- Suspending where Lua cannot yield, metamethods that suspend, error values through await
-- (SPEC §3, first paragraph)
local T = require "testlib"

T.case("async.sleep in a table.sort comparator names table.sort", function()
  local err = T.fails(table.sort, {3, 2, 1}, function(a, b) async.sleep(0); return a < b end)
  T.contains(err, "non-yieldable", "message")
  T.contains(err, "table.sort", "message names the call")
  T.ok(not tostring(err):find("C-call boundary", 1, true), "not Lua's generic message")
  -- the same from a task, and an await instead of a sleep
  local t = async.spawn(function()
    local other = async.spawn(function() end)
    table.sort({2, 1}, function(a, b) other:await(); return a < b end)
  end)
  local err2 = T.fails(t.await, t)
  T.contains(err2, "non-yieldable", "await in a comparator")
  T.contains(err2, "table.sort", "await in a comparator names table.sort")
  -- the task is still fine afterwards
  local t0 = async.now()
  async.sleep(0.01)
  T.ok(async.now() - t0 >= 0.009, "a later sleep works")
end)

T.case("async.sleep in a string.gsub callback names string.gsub", function()
  local err = T.fails(string.gsub, "abc", "%w", function(c) async.sleep(0); return c end)
  T.contains(err, "non-yieldable", "message")
  T.contains(err, "string.gsub", "message names the call")
  local err2 = T.fails(function() return ("abc"):gsub(".", function() async.sleep(0.001) end) end)
  T.contains(err2, "string.gsub", "method call syntax")
end)

T.case("async.sleep in a __gc metamethod names __gc", function()
  local result = {}
  do
    setmetatable({}, {__gc = function()
      local ok, err = pcall(async.sleep, 0)
      result.ok, result.err = ok, err
    end})
  end
  collectgarbage()
  collectgarbage()
  T.eq(result.ok, false, "the sleep inside __gc failed")
  T.contains(result.err, "__gc", "message names __gc")
  T.ok(not tostring(result.err):find("C-call boundary", 1, true), "not Lua's generic message")
end)

T.case("async.sleep at the top level of a required module names require", function()
  package.preload["asyncrun_test_sleepy_preload"] = function()
    async.sleep(0)
    return true
  end
  local err = T.fails(require, "asyncrun_test_sleepy_preload")
  T.contains(err, "non-yieldable", "message (preload)")
  T.contains(err, "require", "message names require (preload)")

  -- a real module file found through package.path
  local path = os.tmpname()
  local dir, base = path:match("^(.*)/([^/]+)$")
  local modname = "m" .. base:gsub("%W", "_")
  local file = dir .. "/" .. modname .. ".lua"
  local f = assert(io.open(file, "w"))
  f:write("async.sleep(0.001)\nreturn {loaded = true}\n")
  f:close()
  local saved = package.path
  package.path = dir .. "/?.lua;" .. saved
  local ok, err2 = pcall(require, modname)
  package.path = saved
  os.remove(file)
  os.remove(path)
  T.eq(ok, false, "require of a sleeping module fails")
  T.contains(err2, "require", "message names require (file)")
  T.contains(err2, modname, "message has the module's position")
  -- the task goes on
  async.sleep(0)
end)

T.case("a generator that sleeps inside a comparator also fails cleanly", function()
  local err = T.fails(table.sort, {3, 2, 1}, function(a, b)
    local g = coroutine.wrap(function() async.sleep(0); coroutine.yield(1) end)
    g()
    return a < b
  end)
  T.contains(err, "non-yieldable", "message")
end)

T.case("pcall and xpcall around suspending calls work", function()
  T.values(T.pack(pcall(async.sleep, 0.001)), T.pack(true), "pcall(async.sleep)")
  local t = async.spawn(function() async.sleep(0); return 1, 2 end)
  T.values(T.pack(pcall(t.await, t)), T.pack(true, 1, 2), "pcall(await)")
  local ok, msg = xpcall(function() async.sleep(0.001); error("e", 0) end,
    function(m) return "handled:" .. m end)
  T.eq(ok, false, "xpcall")
  T.eq(msg, "handled:e", "handler result")
  -- nested pcalls with a sleep at each level
  local r = T.pack(pcall(function()
    async.sleep(0)
    return pcall(function() async.sleep(0); return "deep" end)
  end))
  T.values(r, T.pack(true, true, "deep"), "nested pcall")
end)

T.case("metamethods may suspend", function()
  local obj = setmetatable({}, {
    __index = function(_, k) async.sleep(0.005); return k .. "!" end,
    __newindex = function(t, k, v) async.sleep(0); rawset(t, k, v * 2) end,
    __call = function(_, a) async.sleep(0); return a + 1 end,
    __add = function(_, b) async.sleep(0); return b + 100 end,
    __concat = function(_, b) async.sleep(0); return "cat" .. b end,
    __len = function() async.sleep(0); return 42 end,
    __eq = function() async.sleep(0); return true end,
    __lt = function() async.sleep(0); return true end,
    __le = function() async.sleep(0); return false end,
    __unm = function() async.sleep(0); return "neg" end,
  })
  local t0 = async.now()
  T.eq(obj.x, "x!", "__index")
  T.ok(async.now() - t0 >= 0.004, "__index slept")
  obj.n = 4
  T.eq(rawget(obj, "n"), 8, "__newindex")
  T.eq(obj(1), 2, "__call")
  T.eq(obj + 1, 101, "__add")
  T.eq(obj .. "s", "cats", "__concat")
  T.eq(#obj, 42, "__len")
  local other = setmetatable({}, getmetatable(obj))
  T.eq(obj == other, true, "__eq")
  T.eq(obj < other, true, "__lt")
  T.eq(obj <= other, false, "__le")
  T.eq(-obj, "neg", "__unm")
  -- other tasks run while __index sleeps
  local ran = false
  async.spawn(function() ran = true end)
  local _ = obj.y
  T.eq(ran, true, "another task ran during __index")
end)

T.case("a __pairs and a for-in iterator may suspend", function()
  local obj = setmetatable({}, {__pairs = function(t)
    async.sleep(0)
    return function(_, k)
      async.sleep(0)
      k = (k or 0) + 1
      if k <= 3 then return k, k * k end
    end, t, nil
  end})
  local got = {}
  for k, v in pairs(obj) do got[#got + 1] = k .. "=" .. v end
  T.eq(table.concat(got, " "), "1=1 2=4 3=9", "iteration")
end)

T.case("a task failing with a table error: await raises the same table", function()
  local etab = setmetatable({msg = "custom"}, {__tostring = function(e) return "E:" .. e.msg end})
  local t = async.spawn(function() async.sleep(0.001); error(etab) end)
  local err = T.fails(t.await, t)
  T.same(err, etab, "await raises the very table")
  T.eq(getmetatable(err) ~= nil, true, "metatable kept")
  T.same(T.fails(t.result, t), etab, "result() raises it too")
  -- through two levels of await
  local inner = async.spawn(function() error(etab) end)
  local outer = async.spawn(function() return inner:await() end)
  T.same(T.fails(outer.await, outer), etab, "through two awaits")
  T.eq(outer:status(), "failed", "outer status")
  T.same(T.fails(inner.await, inner), etab, "the inner one as well")
  -- an error raised before any suspension
  local early = async.spawn(function() error(etab) end)
  T.same(T.fails(early.await, early), etab, "error raised in the first step")
end)

T.case("string errors keep their message and position", function()
  local t = async.spawn(function() local x = nil; return x.y end)
  local err = T.fails(t.await, t)
  T.contains(err, "errors.lua:", "position")
  T.contains(err, "attempt to index a nil value", "message")
  local t2 = async.spawn(function() async.sleep(0); error("plain message", 0) end)
  T.eq(T.fails(t2.await, t2), "plain message", "level-0 message unchanged")
  local t3 = async.spawn(function() async.sleep(0); error("at line") end)
  local e3 = T.fails(t3.await, t3)
  T.ok(e3:match("^errors%.lua:%d+: at line$") or e3:match("/errors%.lua:%d+: at line$"),
    "error() position added once, got " .. e3)
end)

T.case("a failed task's error is retrieved by await inside pcall; the run goes on", function()
  local t = async.spawn(function() error("handled") end)
  local ok = pcall(t.await, t)
  T.eq(ok, false, "await raised")
  T.eq(t:status(), "failed", "status")
end)

T.finish()
