-- A process's pipe handed to another child as its stdin: the parent's copy is closed (as a
-- shell closes its own), so the reader sees the end of its input when the writer ends; kept
-- open, `wc -l` would wait for ever. The pipe reaches the child blocking (the parent's end
-- was non-blocking), so the reader never sees EAGAIN.
local a = assert(async.exec({ "sh", "-c", "sleep 0.2; seq 5000" }, { stdout = "pipe" }))
local b = assert(async.exec({ "wc", "-l" }, { stdin = a.stdout, stdout = "pipe" }))
local out = async.timeout(10, function() return b.stdout:read("a") end)
assert(tonumber(out) == 5000, out)
assert(a:wait() == 0 and b:wait() == 0)
assert(not pcall(a.stdout.read, a.stdout), "the parent's copy is still open")
