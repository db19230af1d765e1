-- spawn / await / results
local T = require "testlib"

local t = async.spawn(function(a, b) async.sleep(0.01); return a + b, "two" end, 1, 2)
T.eq(t:status(), "pending", "status before start")
local x, y = t:await()
T.eq(x, 3, "first result")
T.eq(y, "two", "second result")
T.eq(t:status(), "done", "status after")
