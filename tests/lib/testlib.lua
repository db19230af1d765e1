-- A tiny assertion library for the Lua test scripts run by asyncrun itself.
local T = {}

function T.eq(actual, expected, what)
  if actual ~= expected then
    error(string.format("%s: expected %s, got %s", what or "value", tostring(expected),
      tostring(actual)), 2)
  end
end

-- Asserts that fn(...) raises an error whose string form contains pattern (plain text).
function T.raises(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected an error containing '" .. pattern .. "'", 2) end
  if not tostring(err):find(pattern, 1, true) then
    error("expected an error containing '" .. pattern .. "', got: " .. tostring(err), 2)
  end
  return err
end

return T
