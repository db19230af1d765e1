-- A child cancelled on purpose (t:cancel()) cancelled its later-spawned sibling when the
-- body had already returned by the time it ended, and the scope still returned success:
-- the sibling's work was dropped silently. It is that child's business only (issue 19).
local t2
local r = async.scope(function(s)
  local t1 = s:spawn(function()
    local ok, e = pcall(async.sleep, 10)
    async.shield(async.sleep, 0.02)
    error(e, 0)
  end)
  async.sleep(0.01)
  t1:cancel()
  t2 = s:spawn(function() async.sleep(0.05); return "t2 done" end)
  return "body"
end)
assert(r == "body", r)
assert(t2:status() == "done" and t2:result() == "t2 done", t2:status())
