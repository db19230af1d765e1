-- W8 HTTP client: N GETs of URL, J at once, each body read into a string; the same shape as
-- the peers (curl --parallel, aiohttp's J workers over one session, Node's J workers over
-- fetch). An optional CA file makes HTTPS verify against it.
-- usage: asyncrun w8_http.lua N J URL [CAFILE]
local N = tonumber(arg[1]) or 2000
local J = tonumber(arg[2]) or 32
local URL = assert(arg[3], "usage: w8_http.lua N J URL [CAFILE]")
local opts = { cafile = arg[4] }
local next_i, bytes = 1, 0

local function worker()
  while next_i <= N do
    next_i = next_i + 1
    local res = assert(async.http.get(URL, opts))
    assert(res.status == 200, res.status)
    bytes = bytes + #res.body
  end
end

local workers = {}
for k = 1, J do workers[k] = async.spawn(worker) end
async.gather(workers)
assert(bytes == N * 1024, bytes)
