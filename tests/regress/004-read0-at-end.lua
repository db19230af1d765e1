-- read(0) at the end of a stream returned "" where a file returns nil (found by
-- tests/fuzz/fuzz_stream.c).
local p = assert(async.exec({ "printf", "ab" }, { stdout = "pipe" }))
assert(p.stdout:read(0) == "")
assert(p.stdout:read(5) == "ab")
assert(p.stdout:read(0) == nil)
p:wait()
