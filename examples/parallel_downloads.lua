#!/usr/bin/env asyncrun
-- Download URLs with curl, a few at a time.
--
--   asyncrun examples/parallel_downloads.lua URL... [--jobs N]
--
-- Each URL is saved in the current directory under the last part of its path (index.html
-- when that is empty), by `curl -fsS -o FILE URL`; at most N downloads (default 4) run at
-- once. One line per URL as it finishes: "ok     URL -> FILE (N bytes)" or
-- "failed URL: curl's message". Exit status: 0 when every download succeeded, 1 when any
-- failed, 2 on a usage error. Needs curl.

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

local function size_of(file)
  local f = io.open(file, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

local slots = async.semaphore(jobs)
local failures = 0

local function download(url)
  local _ <close> = slots:acquire() -- released however this function ends
  local file = filename(url)
  -- cancelled (Ctrl-C) mid-way: capture kills curl; the partial file goes too
  local ok, out, err, code, sig = pcall(async.capture, { "curl", "-fsS", "-o", file, url })
  if not ok then
    os.remove(file)
    error(out, 0)
  end
  if out and code == 0 then
    print(string.format("ok     %s -> %s (%d bytes)", url, file, size_of(file)))
  else
    failures = failures + 1
    os.remove(file)
    local why = err -- out is nil when curl could not start: "curl: No such file or directory"
    if out then
      why = err:gsub("%s+$", ""):gsub("^curl: ", "")
      if why == "" then
        why = code and "curl exited with status " .. code or "curl killed by SIG" .. sig
      end
    end
    print(string.format("failed %s: %s", url, why))
  end
end

async.scope(function(s)
  for _, url in ipairs(urls) do s:spawn(download, url) end
end)
if failures > 0 then os.exit(1) end
