-- A task failing with a number came back from await as a string: the traceback was built by
-- converting the error value in place.
local t = async.spawn(function() error(12) end)
local ok, v = pcall(t.await, t)
assert(not ok and math.type(v) == "integer" and v == 12, tostring(v))
