-- The part of `async` written in Lua over the C core: combinators, the nursery, and the
-- synchronisation primitives. Every suspension goes through a C function (task waits,
-- park queues, scopes), so cancellation, timeouts and the trace behave the same here as in
-- the C functions. Runs once at start-up with the module table and the private core.
local async, core = ...

local spawn, first, shield, timeout = core.spawn, async.first, async.shield, async.timeout
local park_queue, wait_all, new_scope = core.park_queue, core.wait_all, core.scope
local is_task, retrieve, finish_seq = core.is_task, core.retrieve, core.finish_seq
local first_results = core.first_results
local error_of, groups, current = core.error_of, core.error_groups, async.current
local pack, unpack = table.pack, table.unpack
local error, pcall, rawequal, ipairs, tostring, select = error, pcall, rawequal, ipairs, tostring, select
local getmetatable, setmetatable, type, pairs = getmetatable, setmetatable, type, pairs
local to_integer, to_number, max_integer = core.to_integer, core.to_number, math.maxinteger

-- Every public function here is called through a C closure (core.api, at the end of this
-- file), so an error raised at "the caller" of one names one level more than plain Lua.

-- Argument errors in the form luaL_argerror gives, raised at the caller of `fname`
-- (level: of the caller, counted from argerror's own caller; 2 by default).
local function argerror(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 2) + 2)
end

-- The type as luaL_typeerror names it; nargs tells an explicit nil from no value.
local function typename(v, nargs)
  if v == nil and (nargs or 0) == 0 then return "no value" end
  return type(v)
end

-- Numbers as luaL_checkinteger and luaL_checknumber take them (lua/larg.c, the checks of
-- the whole API), raised at the caller of the API function that calls these.
local function check_integer(v, n, fname, min, max, what)
  local i, msg = to_integer(v, min, max, what)
  if not i then argerror(n, fname, msg, 3) end
  return i
end

local function check_number(v, n, fname, what)
  local x, msg = to_number(v, what)
  if not x then argerror(n, fname, msg, 3) end
  return x
end

local function check_tasks(tasks, fname, nargs)
  if type(tasks) ~= "table" then
    argerror(1, fname, "table expected, got " .. typename(tasks, nargs), 3)
  end
  core.check_tasks(tasks, fname) -- in C: a list can be long
end

local function check_self(self, mt, fname)
  if getmetatable(self) ~= mt then
    argerror(1, fname, ("%s expected, got %s"):format(mt.__name, typename(self, 1)), 3)
  end
end

-- Waits until every task has finished, whatever their outcome.
local function settle(tasks)
  wait_all(tasks, false)
end

-- Cancels the tasks still running and waits for them, deferring the caller's own
-- cancellation: combinators never return while tasks they own still run.
local function cancel_and_settle(tasks)
  for i = 1, #tasks do tasks[i]:cancel() end
  shield(settle, tasks)
end

local function retrieve_all(tasks)
  for i = 1, #tasks do retrieve(tasks[i]) end
end

-- The failed task that finished first, or nil.
local function first_failure(tasks)
  local found
  for i = 1, #tasks do
    local t = tasks[i]
    if t:status() == "failed" and (not found or finish_seq(t) < finish_seq(found)) then
      found = t
    end
  end
  return found
end

-- Errors raised together: no error disappears, a real error wins over a cancellation -----
--
-- A combinator that ends with several errors raises the first real one (the root cause)
-- itself, so that pcall sees exactly that value, and keeps the group {n =, primary, the
-- others...} in groups[running task] for async.errors (see ERROR_GROUPS in task.h, which
-- also says what `shown` counts).

local is_cancelled, is_timeout = async.is_cancelled, async.is_timeout

local function is_real(e)
  return not (is_cancelled(e) or is_timeout(e))
end

local function by_finish(a, b) return finish_seq(a) < finish_seq(b) end

-- The failed tasks of a list, each once, in the order they finished; nil if none failed.
local function failures(tasks)
  local found, seen
  for i = 1, #tasks do
    local t = tasks[i]
    if t:status() == "failed" then
      if not found then found, seen = {}, {} end
      if not seen[t] then
        seen[t] = true
        found[#found + 1] = t
      end
    end
  end
  if found then table.sort(found, by_finish) end
  return found
end

-- The group an error came with: of the task it ended (t), or of the running task (the error
-- a body raised, captured when it was caught). nil when it came alone.
local function group_of(key, err)
  local g = groups[key]
  if g and rawequal(g[1], err) then return g end
end

-- Appends err to the group `into` unless it holds that very value already (an error
-- re-raised by whoever awaited the task that raised it is the same error).
local function add_error(into, err, seen)
  local key = err
  if err == nil then key = seen elseif err ~= err then key = nil end -- nil, NaN
  if key ~= nil then
    if seen[key] then return end
    seen[key] = true
  end
  into.n = into.n + 1
  into[into.n] = err
end

-- Appends err and the errors raised with it (group g, if any) to the group `into`.
local function add_errors(into, seen, err, g)
  add_error(into, err, seen)
  if g then
    for i = 2, g.n do add_error(into, g[i], seen) end
  end
end

-- An entry of the list raise_errors takes: its error, and the group that came with it.
local function error_and_group(e)
  if is_task(e) then
    local err = error_of(e)
    return err, group_of(e, err)
  end
  return e.value, e.group
end

-- Raises the first of `errs`, in the order they happened: failed tasks, or {value = e,
-- group = g} for an error the running task caught; the others join its group.
local function raise_errors(errs)
  local first = errs[1]
  local err, g = error_and_group(first)
  -- a task's traceback, chained into ours, lists its whole group
  local group, seen = { n = 0, shown = g and (is_task(first) and g.n - 1 or g.shown) or 0 }, {}
  add_errors(group, seen, err, g)
  for i = 2, #errs do add_errors(group, seen, error_and_group(errs[i])) end
  if is_task(first) then pcall(first.await, first) end -- re-raised from here: chained
  local self = current()
  if self then groups[self] = group.n > 1 and group or nil end
  error(err, 0)
end

function async.errors(...)
  if select("#", ...) == 0 then argerror(1, "errors", "value expected") end
  local err = ...
  local g = group_of(current() or false, err)
  if not g then return pack(err) end
  return pack(unpack(g, 1, g.n))
end

-- gather -----------------------------------------------------------------------------

function async.gather(...)
  local tasks = ...
  check_tasks(tasks, "gather", select("#", ...))
  local ok, failed = pcall(wait_all, tasks, true)
  if ok and (not failed or failed:status() == "done") then return first_results(tasks) end
  -- the first failure (cancelled counts too), or the caller was cancelled or timed out:
  -- take the tasks with it
  cancel_and_settle(tasks)
  retrieve_all(tasks)
  local errs = failures(tasks)
  if errs then raise_errors(errs) end
  if not ok then error(failed, 0) end
  return failed:await()
end

-- as_completed ------------------------------------------------------------------------

function async.as_completed(...)
  local tasks = ...
  check_tasks(tasks, "as_completed", select("#", ...))
  local remaining = {}
  for i = 1, #tasks do remaining[i] = tasks[i] end
  -- a C closure, as every API function: tracebacks show the loop's call of it on top
  return core.api(function()
    if #remaining == 0 then return nil end
    local t = first(remaining)
    for i = 1, #remaining do
      if rawequal(remaining[i], t) then
        table.remove(remaining, i)
        break
      end
    end
    return t
  end)
end

-- wait_for ----------------------------------------------------------------------------

function async.wait_for(task, seconds)
  if not is_task(task) then argerror(1, "wait_for", "task expected, got " .. typename(task)) end
  if rawequal(task, async.current()) then argerror(1, "wait_for", "a task cannot await itself") end
  seconds = check_number(seconds, 2, "wait_for", "seconds")
  if seconds <= 0 then task:cancel() end -- too late already: a task not started never starts
  local r = pack(pcall(timeout, seconds, task.await, task))
  if r[1] then return unpack(r, 2, r.n) end
  if not task:done() then -- interrupted by the deadline or by the caller's cancellation
    task:cancel()
    shield(settle, { task })
  end
  if task:status() == "failed" then return task:await() end -- a real error wins
  error(r[2], 0)
end

-- scope (a nursery) -------------------------------------------------------------------

local Scope = { __name = "async.Nursery" }
Scope.__index = Scope

function Scope:spawn(fn, ...)
  check_self(self, Scope, "spawn")
  if type(fn) ~= "function" then argerror(1, "spawn", "function expected, got " .. typename(fn)) end
  if self._closed then error("cannot spawn: the scope has finished", 3) end
  local t = spawn(fn, ...)
  self._cs:adopt(t)
  self._children[#self._children + 1] = t
  if self._stopping then t:cancel() end -- the scope is failing or cancelled
  return t
end

local function scope_stop(s)
  s._stopping = true
  for _, t in ipairs(s._children) do t:cancel() end
end

function Scope:cancel()
  check_self(self, Scope, "cancel")
  self._cancelled = true
  self._cs:cancel()
  scope_stop(self)
end

-- Waits until every child has finished, those spawned meanwhile by other children too;
-- a failure cancels the others.
local function scope_wait(s)
  while true do
    if not s._stopping and first_failure(s._children) then scope_stop(s) end
    local pending = {}
    for _, t in ipairs(s._children) do
      if not t:done() then pending[#pending + 1] = t end
    end
    if #pending == 0 then return end
    local failed = wait_all(pending, true)
    if failed and failed:status() == "failed" then scope_stop(s) end -- not a cancelled one
  end
end

function async.scope(body)
  if type(body) ~= "function" then argerror(1, "scope", "function expected, got " .. typename(body)) end
  local own = core.cancelled("scope cancelled")
  local cs = new_scope(own)
  local s = setmetatable({ _cs = cs, _children = {} }, Scope)
  local r = pack(pcall(cs.run, cs, body, s))
  local absorbed = not r[1] and rawequal(r[2], own)
  local body_failed = not r[1] and not absorbed
  local body_err -- a real error of the body, placed among the children's failures
  if body_failed then
    scope_stop(s)
    if is_real(r[2]) then
      local before = failures(s._children)
      body_err = { value = r[2], group = group_of(current(), r[2]), after = before and #before or 0 }
    end
  end
  local ok, err = pcall(scope_wait, s)
  if not ok then -- the caller was cancelled while the children ran
    cancel_and_settle(s._children)
  end
  s._closed = true
  retrieve_all(s._children)
  local errs = failures(s._children)
  if body_err then
    errs = errs or {}
    table.insert(errs, body_err.after + 1, body_err)
  end
  if errs then raise_errors(errs) end -- even during a cancellation
  if not ok then error(err, 0) end
  if body_failed then error(r[2], 0) end
  if absorbed or s._cancelled then return end
  return unpack(r, 2, r.n)
end

-- Guards returned by acquire(): release once when closed ------------------------------

local Guard = { __name = "async.Guard" }
Guard.__index = Guard

function Guard:__close()
  if not self._released then
    self._released = true
    self._owner:release()
  end
end
Guard.release = Guard.__close

local function guard(owner)
  return setmetatable({ _owner = owner, _released = false }, Guard)
end

-- event -------------------------------------------------------------------------------

local Event = { __name = "async.Event" }
Event.__index = Event

function async.event()
  return setmetatable({ _set = false, _waiters = park_queue("event") }, Event)
end

function Event:set()
  check_self(self, Event, "set")
  self._set = true
  while self._waiters:unpark(true) do end
end

function Event:clear()
  check_self(self, Event, "clear")
  self._set = false
end

function Event:is_set()
  check_self(self, Event, "is_set")
  return self._set
end

function Event:wait()
  check_self(self, Event, "wait")
  if self._set then return true end
  return self._waiters:park()
end

-- lock and semaphore: permits handed over FIFO, never lost ----------------------------

local Lock = { __name = "async.Lock" }
Lock.__index = Lock

function async.lock()
  return setmetatable({ _locked = false, _waiters = park_queue("lock") }, Lock)
end

function Lock:acquire()
  check_self(self, Lock, "acquire")
  if not self._locked and self._waiters:empty() then
    self._locked = true
  else
    self._waiters:park() -- returns owning the lock: release hands it over
  end
  return guard(self)
end

function Lock:release()
  check_self(self, Lock, "release")
  if not self._locked then error("release of an unlocked lock", 3) end
  if not self._waiters:unpark(true) then self._locked = false end
end

function Lock:locked()
  check_self(self, Lock, "locked")
  return self._locked
end

local Semaphore = { __name = "async.Semaphore" }
Semaphore.__index = Semaphore

function async.semaphore(n)
  n = n == nil and 1 or check_integer(n, 1, "semaphore", 0, max_integer, "count")
  return setmetatable({ _value = n, _waiters = park_queue("semaphore") }, Semaphore)
end

function Semaphore:acquire()
  check_self(self, Semaphore, "acquire")
  if self._value > 0 and self._waiters:empty() then
    self._value = self._value - 1
  else
    self._waiters:park()
  end
  return guard(self)
end

function Semaphore:release()
  check_self(self, Semaphore, "release")
  if not self._waiters:unpark(true) then self._value = self._value + 1 end
end

function Semaphore:value()
  check_self(self, Semaphore, "value")
  return self._value
end

function Semaphore:locked()
  check_self(self, Semaphore, "locked")
  return self._value == 0
end

-- future ------------------------------------------------------------------------------

local Future = { __name = "async.Future" }
Future.__index = Future

function async.future()
  return setmetatable({ _done = false, _waiters = park_queue("future") }, Future)
end

local function f_finish(f, failed, values)
  if f._done then error("future already finished", 4) end
  f._done, f._failed, f._values = true, failed, values
  while f._waiters:unpark(true) do end
end

function Future:set(...)
  check_self(self, Future, "set")
  f_finish(self, false, pack(...))
end

function Future:fail(err)
  check_self(self, Future, "fail")
  f_finish(self, true, err)
end

function Future:done()
  check_self(self, Future, "done")
  return self._done
end

function Future:await()
  check_self(self, Future, "await")
  if not self._done then self._waiters:park() end
  if self._failed then error(self._values, 0) end
  return unpack(self._values, 1, self._values.n)
end

-- capture: run a process and collect both its streams at once -------------------------

function async.capture(argv, opts)
  if type(argv) ~= "table" then argerror(1, "capture", "table expected, got " .. typename(argv, 1)) end
  if #argv == 0 then argerror(1, "capture", "non-empty list expected") end
  if opts ~= nil and type(opts) ~= "table" then
    argerror(2, "capture", "table expected, got " .. type(opts))
  end
  opts = opts or {}
  local input = opts.input
  if input ~= nil and type(input) ~= "string" then
    argerror(2, "capture", "opts.input must be a string")
  end
  local stdin = opts.stdin
  if type(stdin) == "string" and stdin ~= "inherit" and stdin ~= "pipe" and stdin ~= "null"
      or stdin ~= nil and type(stdin) ~= "string" and type(stdin) ~= "userdata" then
    argerror(2, "capture", 'opts.stdin must be "inherit", "pipe", "null", a stream or a file')
  end
  if opts.stderr ~= nil and opts.stderr ~= "stdout" then
    argerror(2, "capture", 'opts.stderr must be "stdout" (2>&1) or nil')
  end
  if opts.env ~= nil and type(opts.env) ~= "table" then
    argerror(2, "capture", "opts.env must be a table")
  end
  local p, err, code = async.exec(argv, {
    stdin = input and "pipe" or opts.stdin or "null", stdout = "pipe",
    stderr = opts.stderr or "pipe", env = opts.env, cwd = opts.cwd, group = opts.group,
  })
  if not p then return nil, err, code end
  local out, errs
  -- both pipes are drained at once: a child filling one of them never blocks
  local ok, e = pcall(async.scope, function(s)
    if input then
      s:spawn(function() p.stdin:write(input); p.stdin:close() end)
    elseif p.stdin then
      p.stdin:close() -- nothing to feed: the child sees the end of its input
    end
    s:spawn(function() out = p.stdout:read("a"); p.stdout:close() end)
    if p.stderr then
      s:spawn(function() errs = p.stderr:read("a"); p.stderr:close() end)
    else -- 2>&1: all of it is in out
      errs = ""
    end
  end)
  local c, sig
  if ok then
    ok, c, sig = pcall(p.wait, p) -- a child that closed its output may still run
    if not ok then e = c end
  end
  if not ok then -- cancelled or timed out: the child and its pipes go now, not at collection
    p:kill("KILL")
    shield(p.wait, p)
    for _, name in ipairs({ "stdout", "stderr", "stdin" }) do
      if p[name] then pcall(p[name].close, p[name]) end
    end
    error(e, 0)
  end
  return out, errs, c, sig
end

-- tcp and unix: connecting to each address in turn, and servers --------------------------

local EMFILE, ENFILE = 24, 23

local function is_numeric(host)
  return host:match("^%d+%.%d+%.%d+%.%d+$") or host:find(":", 1, true)
end

-- A host name or a path becomes a C string: a zero byte, which C would take for its end,
-- raises as laux_cstring does for the C functions.
local function check_cstring(s, n, fname, level)
  if s and s:find("\0", 1, true) then argerror(n, fname, "string contains a zero byte", level or 3) end
end

local function check_port(port, fname, level)
  local p, msg = to_integer(port, 0, 65535, "port")
  if not p then argerror(2, fname, msg, level or 3) end
  return p
end

local function tcp_connect(host, port)
  if type(host) ~= "string" then argerror(1, "connect", "string expected, got " .. typename(host, 1)) end
  check_cstring(host, 1, "connect")
  port = check_port(port, "connect")
  local addrs, err, code = { host }, nil, nil
  if not is_numeric(host) then
    addrs, err, code = async.resolve(host)
    if not addrs then return nil, err, code end
  end
  for _, addr in ipairs(addrs) do
    local s
    s, err, code = core.connect(addr, port)
    if s then return s end
  end
  return nil, err, code
end

local Server = { __name = "async.Server" }
Server.__index = Server

function Server:port()
  check_self(self, Server, "port")
  return self._sock:port()
end

-- The handlers still running (a finished task drops out of the weak table by itself).
local function live_handlers(server)
  local list, me = {}, current()
  for t in pairs(server._handlers) do
    if not t:done() and not rawequal(t, me) then list[#list + 1] = t end
  end
  return list
end

-- close({cancel = true}) also cancels the running handlers: for servers whose handlers wait
-- on clients that may never leave.
function Server:close(opts)
  check_self(self, Server, "close")
  if opts ~= nil and type(opts) ~= "table" then
    argerror(1, "close", "table expected, got " .. type(opts))
  end
  self._sock:close()
  if opts and opts.cancel then
    for _, t in ipairs(live_handlers(self)) do t:cancel() end
  end
end

-- Returns once the server is closed and its handlers have ended (as Python 3.12's
-- wait_closed), whatever their outcome: a handler's failure is reported as before.
function Server:wait()
  check_self(self, Server, "wait")
  self._acceptor:await()
  local handlers = live_handlers(self)
  while #handlers > 0 do
    settle(handlers)
    handlers = live_handlers(self)
  end
end

-- Each connection runs handler(stream) in a task of its own; the stream is closed when the
-- handler returns or fails. Accepting pauses briefly when descriptors run out (EMFILE),
-- instead of spinning on a listening socket that stays readable.
local function serve(sock, handler, label)
  local server = setmetatable({ _sock = sock, _handlers = setmetatable({}, { __mode = "k" }) }, Server)
  local handlers = server._handlers
  server._acceptor = spawn(function()
    while true do
      local s, _, code = sock:accept()
      if s then
        handlers[spawn(function()
          local _ <close> = s
          return handler(s)
        end)] = true
      elseif sock:closed() then
        return
      elseif code == EMFILE or code == ENFILE then
        async.sleep(0.1)
      end
    end
  end)
  server._acceptor.name = label
  return server
end

-- The checks of async.tcp.listen and async.tls.listen; returns the port as a number.
local function check_listen(host, port, handler)
  if host ~= nil and type(host) ~= "string" then argerror(1, "listen", "string expected, got " .. type(host), 3) end
  check_cstring(host, 1, "listen", 4)
  port = check_port(port, "listen", 4)
  if type(handler) ~= "function" then argerror(3, "listen", "function expected, got " .. typename(handler, 1), 3) end
  return port
end

-- The server of async.tcp.listen and async.tls.listen; its accepting task is named label:PORT.
local function listen_tcp(host, port, reuseport, handler, label)
  if host == "localhost" then host = "127.0.0.1" end
  local sock, err, code = core.listen(host, port, reuseport)
  if not sock then return nil, err, code end
  return serve(sock, handler, label .. ":" .. sock:port())
end

local function tcp_listen(host, port, handler, opts)
  port = check_listen(host, port, handler)
  if opts ~= nil and type(opts) ~= "table" then argerror(4, "listen", "table expected, got " .. type(opts)) end
  return listen_tcp(host, port, opts and opts.reuseport, handler, "server")
end

async.tcp = { connect = tcp_connect, listen = tcp_listen }

async.unix = {
  connect = function(path)
    if type(path) ~= "string" then argerror(1, "connect", "string expected, got " .. typename(path, 1)) end
    check_cstring(path, 1, "connect")
    return core.connect(path)
  end,
  listen = function(path, handler)
    if type(path) ~= "string" then argerror(1, "listen", "string expected, got " .. typename(path, 1)) end
    check_cstring(path, 1, "listen")
    if type(handler) ~= "function" then argerror(2, "listen", "function expected, got " .. typename(handler, 1)) end
    local sock, err, code = core.listen(path)
    if not sock then return nil, err, code end
    return serve(sock, handler, "server:" .. path)
  end,
}

-- tls: TCP streams under TLS (lua/ltls.c; OpenSSL is loaded by the first call) ------------

local TLS_CLIENT = { cafile = "string", servername = "string", insecure = "boolean" }
local TLS_WRAP = { cafile = "string", servername = "string", insecure = "boolean",
                   server = "boolean", cert = "string", key = "string" }
local TLS_SERVER = { cert = "string", key = "string", reuseport = "boolean",
                     handshake_timeout = "number" }

-- The strings go to C as file and host names: a zero byte would cut them short there (a
-- servername "localhost\0.evil.example" verified as "localhost"). SNI carries 1 to 255 bytes.
local function tls_opts(opts, n, fname, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(n, fname, "table expected, got " .. type(opts), 3) end
  for k, want in pairs(known) do
    local v = opts[k]
    if v ~= nil and type(v) ~= want then
      argerror(n, fname, ("opts.%s: %s expected, got %s"):format(k, want, type(v)), 3)
    elseif want == "string" and v and v:find("\0", 1, true) then
      argerror(n, fname, ("opts.%s contains a zero byte"):format(k), 3)
    end
  end
  local name = known.servername and opts.servername
  if name and (#name == 0 or #name > 255) then
    argerror(n, fname, "opts.servername must be 1 to 255 bytes long, got " .. #name, 3)
  end
  return opts
end

local function tls_connect(host, port, opts)
  if type(host) ~= "string" then argerror(1, "connect", "string expected, got " .. typename(host, 1)) end
  check_cstring(host, 1, "connect")
  port = check_port(port, "connect")
  opts = tls_opts(opts, 3, "connect", TLS_CLIENT)
  local ctx, err, code = core.tls_context(false, opts.cafile)
  if not ctx then return nil, err, code end
  local s
  s, err, code = tcp_connect(host, port)
  if not s then return nil, err, code end
  return core.tls_wrap(s, ctx, opts.servername or host, opts.insecure, false)
end

local function tls_wrap(s, opts)
  local why = core.tls_check(s)
  if why then argerror(1, "wrap", why) end
  opts = tls_opts(opts, 2, "wrap", TLS_WRAP)
  local ctx, err, code
  if opts.server then
    if not (opts.cert and opts.key) then argerror(2, "wrap", "opts.cert and opts.key expected with opts.server") end
    ctx, err, code = core.tls_context(true, opts.cert, opts.key)
  else
    if not (opts.servername or opts.insecure) then
      argerror(2, "wrap", "opts.servername expected (the name the certificate must carry)")
    end
    ctx, err, code = core.tls_context(false, opts.cafile)
  end
  if not ctx then return nil, err, code end
  return core.tls_wrap(s, ctx, opts.servername, opts.insecure, opts.server)
end

-- Each connection's handler starts after the server's handshake; a client that hangs up, is
-- not speaking TLS or stays silent past the handshake timeout ends only its own task, quietly.
local function tls_listen(host, port, handler, opts)
  port = check_listen(host, port, handler)
  opts = tls_opts(opts, 4, "listen", TLS_SERVER)
  if not (opts.cert and opts.key) then argerror(4, "listen", "opts.cert and opts.key expected") end
  local limit = opts.handshake_timeout or 60
  if limit <= 0 then argerror(4, "listen", "opts.handshake_timeout must be positive") end
  local ctx, err, code = core.tls_context(true, opts.cert, opts.key)
  if not ctx then return nil, err, code end
  local tls_wrap_c = core.tls_wrap
  return listen_tcp(host, port, opts.reuseport, function(s)
    local ok, r = pcall(timeout, limit, tls_wrap_c, s, ctx, nil, false, true)
    if not ok and not is_timeout(r) then error(r, 0) end -- a cancellation goes on
    if ok and r then return handler(s) end
  end, "tls-server")
end

async.tls = { connect = tls_connect, wrap = tls_wrap, listen = tls_listen }
do
  local api = core.api
  for k, v in pairs(async.tls) do async.tls[k] = api(v) end
end

-- the C closures in front of the public functions --------------------------------------

do
  local api = core.api
  for _, class in ipairs({ Scope, Guard, Event, Lock, Semaphore, Future, Server }) do
    for k, v in pairs(class) do
      if type(v) == "function" then class[k] = api(v) end
    end
  end
  for _, name in ipairs({ "gather", "as_completed", "wait_for", "scope", "errors", "event", "lock",
                          "semaphore", "future", "capture" }) do
    async[name] = api(async[name])
  end
  for _, ns in ipairs({ async.tcp, async.unix }) do
    for k, v in pairs(ns) do ns[k] = api(v) end
  end
end

-- the interactive prompt (-i): each chunk runs as a task and is awaited ------------------

-- lua.c's rules: "=expr" and bare expressions print their values, a chunk that ends too
-- early ("<eof>") continues on the next line. Ctrl-C cancels the chunk being run, not the
-- prompt; other tasks keep running while the prompt waits for input.
function core.repl(version)
  local stdin, stdout, stderr = async.stdin, io.stdout, io.stderr
  local current, editing
  local interrupts = async.signal("INT")
  local watcher = spawn(function()
    while interrupts:wait() do
      if current then
        current:cancel("interrupted")
      elseif editing then
        core.readline_interrupted() -- drops the line being typed, prompts again
      else
        stdout:write("\n> ")
        stdout:flush()
      end
    end
  end)
  watcher.name = "prompt:ctrl-c"
  print(version)
  local buf
  while true do
    local prompt = buf and ">> " or "> "
    local line = core.readline(prompt) -- with line editing and history, when available
    editing = line ~= false
    if line == false then
      stdout:write(prompt)
      stdout:flush()
      line = stdin:read("l")
    end
    if not line then break end
    buf = buf and buf .. "\n" .. line or line
    local code = buf:gsub("^=", "return ")
    local fn, err = load("return " .. code, "=stdin", "t")
    if not fn then fn, err = load(code, "=stdin", "t") end
    if fn or err:sub(-5) ~= "<eof>" then
      buf = nil
      if fn then
        current = spawn(fn)
        current.name = "prompt"
        local r = pack(pcall(current.await, current))
        current = nil
        if r[1] and r.n > 1 then
          print(unpack(r, 2, r.n))
        elseif not r[1] then
          local all = async.errors(r[2])
          stderr:write(tostring(r[2]), "\n")
          for i = 2, all.n do stderr:write("also raised: ", tostring(all[i]), "\n") end
        end
      else
        stderr:write(err, "\n")
      end
    end
  end
  stdout:write("\n")
  interrupts:close()
  watcher:cancel()
end
