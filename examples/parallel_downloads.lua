#!/usr/bin/env asyncrun
-- Download URLs with async.http, a few at a time.
--
--   asyncrun examples/parallel_downloads.lua URL... [--jobs N]
--
-- Each URL is saved in the current directory under the last part of its path (index.html
-- when that is empty), the body written to the file as it arrives; at most N downloads
-- (default 4) run at once, over connections kept open for reuse. One line per URL as it
-- finishes: "ok     URL -> FILE (N bytes)" or "failed URL: why" (curl's message, or the
-- HTTP status). Exit status: 0 when every download succeeded, 1 when any failed, 2 on a
-- usage error.

local function usage(msg)
  io.stderr:write("parallel_downloads: ", msg, "\n",
                  "usage: parallel_downloads.lua URL... [--jobs N]\n")
  os.exit(2)
end

local jobs, urls = 4, {}
local args = table.pack(...)
local i = 1
while i <= args.n do
  local a = args[i]
  local value = a:match("^%-%-jobs=(.*)$")
  if a == "--jobs" then
    i = i + 1
    value = args[i] or usage("--jobs needs a value")
  end
  if value then
    jobs = math.tointeger(tonumber(value))
    if not jobs or jobs < 1 then usage("--jobs wants a positive integer, not '" .. value .. "'") end
  elseif a:sub(1, 1) == "-" then
    usage("unknown option " .. a)
  else
    urls[#urls + 1] = a
  end
  i = i + 1
end
if #urls == 0 then usage("no URL given") end

-- "http://host/a/b.txt?x=1" -> "b.txt"; "http://host/" -> "index.html"
local function filename(url)
  local path = url:gsub("[?#].*$", ""):gsub("^%a[%w+.-]*://[^/]*", "")
  local name = path:match("([^/]*)$")
  return name ~= "" and name or "index.html"
end

local slots = async.semaphore(jobs)
local failures = 0

local function download(url)
  local _ <close> = slots:acquire() -- released however this function ends
  local file = filename(url)
  local f, err = io.open(file, "wb")
  if not f then
    failures = failures + 1
    print(string.format("failed %s: %s", url, err))
    return
  end
  -- cancelled (Ctrl-C) mid-way: the transfer ends at once; the partial file goes too
  local ok, res, msg = pcall(async.http.get, url, { output = f })
  local size = f:seek("end")
  f:close()
  if not ok then
    os.remove(file)
    error(res, 0)
  end
  if res and res.status < 400 then
    print(string.format("ok     %s -> %s (%d bytes)", url, file, size))
  else
    failures = failures + 1
    os.remove(file)
    print(string.format("failed %s: %s", url, res and "HTTP status " .. res.status or msg))
  end
end

async.scope(function(s)
  for _, url in ipairs(urls) do s:spawn(download, url) end
end)
if failures > 0 then os.exit(1) end
