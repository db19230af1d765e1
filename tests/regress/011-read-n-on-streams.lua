-- s:read("n") raised "invalid format" where Lua's io reads a number (issue 14).
local p = assert(async.exec({ "printf", " 0x10 -2.5e1\n7 x" }, { stdout = "pipe" }))
local a, b, c, d = p.stdout:read("n", "n", "n", "n")
assert(a == 16 and math.type(a) == "integer" and b == -25.0 and c == 7 and d == nil)
assert(p.stdout:read("a") == "x")
p:wait()
