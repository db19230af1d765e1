-- A child failed with A; the body, cancelled because of it, raised B from its clean-up: the
-- scope raised B and A was lost. The root cause is raised, B stays reachable (issue 19).
local ok, err = pcall(async.scope, function(s)
  s:spawn(function() async.sleep(0.01); error("A", 0) end)
  pcall(async.sleep, 10)
  error("B", 0)
end)
assert(not ok and err == "A", tostring(err))
local es = async.errors(err)
assert(es.n == 2 and es[1] == "A" and es[2] == "B", es.n)
