-- io.write's C stdio buffer (and an s:write before buffering) was held for the whole of an
-- async.sleep when standard output is a pipe (issue 14): the loop now flushes before it waits.
for _, code in ipairs({ 'io.write("x")', 'async.stdout:write("x")', 'io.write("x") async.stdout:write("y")' }) do
  local p = assert(async.exec({ arg[-1], "-e", code .. " async.sleep(5)" }, { stdout = "pipe" }))
  local t0 = async.now()
  local got = async.timeout(3, p.stdout.read_some, p.stdout)
  assert(got and got:sub(1, 1) == "x", code)
  assert(async.now() - t0 < 3, code)
  p:kill("KILL")
  p:wait()
end
