-- 1,000,000 queue hand-offs: one producer and one consumer through a queue of size 1 (every
-- item passes from one task to the other, in order), then 8 producers and 8 consumers
-- through a queue of 64 (every item delivered exactly once).
-- usage: asyncrun queue.lua [N]
local C = dofile((arg[0]:match("^(.*/)") or "./") .. "common.lua")
local N = math.tointeger(tonumber(arg[1] or "1000000"))

-- 1. ping-pong through a queue of size 1
local q = async.queue(1)
local t0 = async.now()
local producer = async.spawn(function()
  for i = 1, N do q:put(i) end
  q:close()
end)
local received, in_order = 0, true
for v in q:iter() do
  received = received + 1
  if v ~= received then in_order = false end
end
producer:await()
local t1 = async.now() - t0
C.check(received == N, "1:1 queue delivered %d of %d", received, N)
C.check(in_order, "1:1 queue delivered out of order")

-- 2. many to many
local P, K = 8, 8
local q2 = async.queue(64)
local seen = {}
local got = 0
t0 = async.now()
local producers, consumers = {}, {}
for p = 1, P do
  producers[p] = async.spawn(function()
    for i = p, N, P do q2:put(i) end
  end)
end
for k = 1, K do
  consumers[k] = async.spawn(function()
    local mine = 0
    for v in q2:iter() do
      if seen[v] then error("item " .. v .. " delivered twice") end
      seen[v] = true
      mine = mine + 1
    end
    return mine
  end)
end
async.gather(producers)
q2:close()
local counts = async.gather(consumers)
for _, c in ipairs(counts) do got = got + c end
local t2 = async.now() - t0
local missing = 0
for i = 1, N do if not seen[i] then missing = missing + 1 end end
C.check(got == N, "%dx%d queue delivered %d of %d", P, K, got, N)
C.check(missing == 0, "%dx%d queue: %d items never delivered", P, K, missing)
C.finish("queue", ("%d hand-offs 1:1 in %.2f s (%.0f/s); %d items %dx%d in %.2f s"):format(
  received, t1, received / t1, got, P, K, t2))
