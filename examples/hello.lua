-- Two tasks interleave on one loop; run with `asyncrun --trace examples/hello.lua`.
local function worker(name, delay, n)
  for i = 1, n do
    async.sleep(delay)
    print(name .. " " .. i)
  end
  return name .. " done"
end

local a = async.spawn(worker, "tick", 0.1, 3)
local b = async.spawn(worker, "tock", 0.14, 2)
a.name, b.name = "tick", "tock"
print(a:await(), b:await())
