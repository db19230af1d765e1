#!/usr/bin/env asyncrun
-- Fan-out/fan-in: lines from standard input go through a bounded queue to a pool of workers,
-- and their results through a second queue to one writer that prints them in input order.
--
--   some-command | asyncrun examples/pipeline.lua [WORKERS]
--
-- Each output line is the input line upper-cased, a tab and its length in characters. The
-- workers (default 4) take a random 0-10 ms each, so they finish out of order; sequence
-- numbers let the writer put the lines back in order. Closing a queue is the "no more"
-- signal: the reader closes the first at end of input, and once every worker has finished,
-- the second is closed too.

local nworkers = math.tointeger(tonumber((...) or 4))
if not nworkers or nworkers < 1 then
  io.stderr:write("usage: pipeline.lua [WORKERS]\n")
  os.exit(2)
end

local jobs = async.queue(2 * nworkers)    -- bounded: the reader waits when workers lag
local results = async.queue(2 * nworkers)

local function reader()
  local seq = 0
  for line in async.stdin:lines() do
    seq = seq + 1
    jobs:put({ seq = seq, line = line })
  end
  jobs:close()
end

local function worker()
  for job in jobs:iter() do
    async.sleep(math.random() * 0.01) -- stands for real work: a request, a subprocess...
    local text = job.line:upper() .. "\t" .. (utf8.len(job.line) or #job.line)
    results:put({ seq = job.seq, text = text })
  end
end

local function writer()
  local pending, next_seq = {}, 1 -- results that arrived before their turn
  for r in results:iter() do
    pending[r.seq] = r.text
    while pending[next_seq] do
      io.write(pending[next_seq], "\n")
      pending[next_seq] = nil
      next_seq = next_seq + 1
    end
  end
end

async.scope(function(s)
  s:spawn(writer)
  async.scope(function(stage)
    stage:spawn(reader)
    for _ = 1, nworkers do stage:spawn(worker) end
  end)
  results:close() -- every worker is done: the writer drains what is left and ends
end)
