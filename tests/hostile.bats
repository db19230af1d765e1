#!/usr/bin/env bats
# Hostile input (SPEC §3 "Arguments", §5): strings that C would cut are refused, traces,
# dumps and reports never carry a raw control byte or invalid UTF-8 (task names and errors
# may come from the network), asyncrun hands no descriptor of its own to a run or a child,
# the terminal is put back on every way out, and errors name who failed.

load helpers

setup() {
    clean_environment
    ASYNCRUN=$(realpath "$ASYNCRUN")
    PTYRUN=$BATS_TEST_DIRNAME/lib/ptyrun.py
    cd "$BATS_TEST_TMPDIR" || return 1
}

lua() { script "$1" > /dev/null; }

@test "arguments: a zero byte in a string that becomes a C string, or '=' in an env name, raises naming the function and argument" {
    echo keep > keep.txt
    lua zero.lua <<'EOF'
local function t(f, ...) print(select(2, pcall(f, ...))) end
t(async.exec, {"rm", "keep.txt\0.bak"})
t(async.exec, {"true\0"})
t(async.exec, {"true"}, {env = {["FOO=BAR"] = "baz"}})
t(async.exec, {"true"}, {env = {[""] = "baz"}})
t(async.exec, {"true"}, {env = {["FOO\0"] = "baz"}})
t(async.exec, {"true"}, {env = {FOO = "b\0az"}})
t(async.exec, {"true"}, {cwd = "/tmp\0x"})
t(async.exec, {"true"}, {stdin = "pipe\0"})
t(async.signal, "TERM\0x")
t(async.resolve, "localhost\0x")
t(function() return async.unix.listen("sock\0x", print) end)
t(function() return async.unix.connect("sock\0x") end)
t(function() return async.tcp.connect("localhost\0x", 80) end)
t(function() return async.tcp.listen("127.0.0.1\0x", 0, print) end)
local p = async.exec({"sleep", "5"})
t(function() return p:kill("TERM\0x") end)
p:kill()
p:wait()
t(function() return async.stdout:setvbuf("no\0") end)
t(function() async.spawn(function() end).name = "a\0b" end)
print(async.exec({"sh", "-c", 'test "$FOO" = "a=b"'}, {env = {FOO = "a=b"}}):wait())
EOF
    run -0 "$ASYNCRUN" zero.lua
    assert_output - <<'EOF'
bad argument #1 to 'async.exec' (argv[2] contains a zero byte)
bad argument #1 to 'async.exec' (argv[1] contains a zero byte)
bad argument #2 to 'async.exec' (opts.env name 'FOO=BAR' contains '=')
bad argument #2 to 'async.exec' (opts.env name is empty)
bad argument #2 to 'async.exec' (opts.env name contains a zero byte)
bad argument #2 to 'async.exec' (opts.env value contains a zero byte)
bad argument #2 to 'async.exec' (opts.cwd contains a zero byte)
bad argument #2 to 'async.exec' (opts.stdin contains a zero byte)
bad argument #1 to 'async.signal' (string contains a zero byte)
bad argument #1 to 'async.resolve' (string contains a zero byte)
zero.lua:12: bad argument #1 to 'listen' (string contains a zero byte)
zero.lua:13: bad argument #1 to 'connect' (string contains a zero byte)
zero.lua:14: bad argument #1 to 'connect' (string contains a zero byte)
zero.lua:15: bad argument #1 to 'listen' (string contains a zero byte)
zero.lua:17: bad argument #1 to 'kill' (string contains a zero byte)
zero.lua:20: bad argument #1 to 'setvbuf' (string contains a zero byte)
zero.lua:21: task name contains a zero byte
0	nil
EOF
    [ -f keep.txt ] || fail "rm ran: keep.txt is gone"
    [ ! -e sock ] || fail "a socket was bound at the path cut at its zero byte"
}

# A run whose task names and errors hold invalid UTF-8, quotes, backslashes, control bytes,
# a C1 control (U+009B, a CSI) and an ESC sequence: the same strings as the names of tasks
# that a dump lists, that fail unawaited, and as the main task's error.
hostile_script() {
    lua hostile.lua <<'EOF'
local bad = "n\27]0;title\7 \255\254 \"q\" back\\slash \27[31mred\27[0m \1\2\r\n \194\155 \xe2\x82 é €"
local t = async.spawn(function() async.sleep(0.01) error(bad) end)
t.name = bad
local u = async.spawn(function() async.event():wait() end)
u.name = bad
local v = async.spawn(function() error(bad) end)
v.name = bad
pcall(v.await, v)
async.sleep(0.05)
io.stderr:write("dump follows\n")
os.execute("kill -USR1 " .. io.open("/proc/self/stat"):read("n"))
async.sleep(0.05)
error(bad)
EOF
}

# Fails unless file $1 is valid UTF-8 with no control character but \t and \n (C1 included).
no_raw_bytes() {
    python3 - "$1" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")  # raises on invalid UTF-8
bad = re.findall(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]", text)
assert not bad, "raw control characters: %r" % bad
EOF
}

@test "json traces, --stats=json and the chrome trace: every line is valid UTF-8 JSON, whatever the task names and errors hold" {
    hostile_script
    run -1 --separate-stderr "$ASYNCRUN" --trace=json --trace-file=t.json hostile.lua
    run -1 --separate-stderr "$ASYNCRUN" --trace=json --stats=json hostile.lua
    printf '%s\n' "$stderr" > stderr.txt
    run -1 --separate-stderr "$ASYNCRUN" --trace=chrome --trace-file=t.chrome hostile.lua
    run -1 --separate-stderr "$ASYNCRUN" --trace=html --trace-file=t.html hostile.lua
    run -0 python3 - <<'EOF'
import json
bad = "n\x1b]0;title\x07 \ufffd\ufffd \"q\" back\\slash \x1b[31mred\x1b[0m \x01\x02\r\n \x9b \ufffd\ufffd é €"
for f in ("t.json", "t.chrome", "t.html", "stderr.txt"):
    no_raw = open(f, "rb").read().decode("utf-8")  # valid UTF-8 throughout
    assert "\x1b" not in no_raw and "\x9b" not in no_raw and "\x07" not in no_raw, f
lines = [json.loads(l) for l in open("t.json", encoding="utf-8")]
names = {e["name"] for e in lines if e.get("task", 0) > 1 and e["event"] != "spawn"}
assert names == {bad}, names
errors = [e["error"].split(": ", 1)[1] for e in lines if e["event"] == "fail"]
assert errors == [bad.split("\n")[0]] * 3, errors  # the first line of each
# stderr: the json trace lines, the --stats=json object, the reports (checked below)
objs = [json.loads(l) for l in open("stderr.txt", encoding="utf-8") if l.startswith("{")]
assert any("tasks_spawned" in o for o in objs) and any(o.get("event") == "fail" for o in objs)
chrome = json.load(open("t.chrome", encoding="utf-8"))["traceEvents"]
assert any(e.get("args", {}).get("name", "").endswith(bad) for e in chrome), "no track name"
# t.html: valid UTF-8 without raw controls (above); its packed strings: diagnostics.bats
print("ok")
EOF
    assert_output ok
}

@test "text trace, task dump and reports: control bytes, C1 controls and invalid UTF-8 are escaped as \\xNN" {
    hostile_script
    run -1 --separate-stderr "$ASYNCRUN" --trace --stats hostile.lua
    printf '%s\n' "$stderr" > stderr.txt
    run -0 no_raw_bytes stderr.txt
    use_stderr() { output=$stderr; }
    use_stderr
    esc='n\x1b]0;title\x07 \xff\xfe'
    # the text trace: quoted, quotes and backslashes escaped too
    assert_output --partial "name=\"$esc \\\"q\\\" back\\\\slash \\x1b[31mred\\x1b[0m \\x01\\x02\\r\\n \\xc2\\x9b \\xe2\\x82 é €\""
    # the dump, the unawaited failure, the main task's error, --stats: quotes and backslashes as they are
    assert_output --partial "task 3 ($esc \"q\" back\\slash \\x1b[31mred\\x1b[0m \\x01\\x02\\r"
    assert_output --partial "asyncrun: task 2 ($esc"
    assert_output --partial "failed and nobody awaited it: hostile.lua:2: $esc \"q\""
    assert_output --partial "asyncrun: hostile.lua:13: $esc \"q\" back\\slash \\x1b[31mred"
    assert_output --partial "  task 1 (main) pending, waiting on sleep:0.05 at hostile.lua:12"
}

# Runs asyncrun with no descriptor above 2 (bats leaves some of its own open).
no_inherited_fds() {
    python3 -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))' "$@"
}

@test "descriptors: a run, its children and --explore's runs get no descriptor of asyncrun's own" {
    lua fds.lua <<'EOF'
-- with a server, a connection, a process's pipes and the trace open: the run's descriptors
-- above 2 are all close-on-exec; its children (async.exec, io.popen, os.execute) have 0-2
local srv = async.tcp.listen("127.0.0.1", 0, function(s) s:read("a") end)
local conn = async.tcp.connect("127.0.0.1", srv:port())
local p = async.exec({"cat"}, {stdin = "pipe", stdout = "pipe"})
local list = "sh -c 'ls /proc/$$/fd; true'"
local function fds(s) return (s:gsub("\n", " ")) end
local got = {
  "run: " .. async.capture({"python3", "-c", [[
import os
pid = os.getppid()
print(" ".join(f for f in sorted(os.listdir("/proc/%d/fd" % pid), key=int) if int(f) > 2 and
      not int(open("/proc/%d/fdinfo/%s" % (pid, f)).read().split("flags:")[1].split()[0], 8) & 0o2000000)
      or "ok", end="")]]}),
  "exec: " .. fds(async.capture({"sh", "-c", "ls /proc/$$/fd; true"})),
}
local f = io.popen(list)
got[#got + 1] = "popen: " .. fds(f:read("a"))
f:close()
os.execute(list .. " > execute.txt")
got[#got + 1] = "execute: " .. fds(io.open("execute.txt"):read("a"))
p.stdin:close()
p:wait()
conn:close()
srv:close()
local out = table.concat(got, "\n")
print(out)
if out ~= "run: ok\nexec: 0 1 2 \npopen: 0 1 2 \nexecute: 0 1 2 " then os.exit(1) end
EOF
    for opts in "" "--trace --trace-file=t.txt --stats --debug"; do
        run -0 --separate-stderr no_inherited_fds "$ASYNCRUN" $opts fds.lua < /dev/null
        assert_output - <<'EOF'
run: ok
exec: 0 1 2 
popen: 0 1 2 
execute: 0 1 2 
EOF
    done
    # --explore's runs, with its three temporary files (stdin, output, errors)
    run -0 no_inherited_fds "$ASYNCRUN" --explore=2 fds.lua <<< "input"
    assert_output --partial "2 runs passed"
}

@test "async.exec: asyncrun's own descriptor shortage names no program; the program's own failure names it" {
    lua emfile.lua <<'EOF'
local files = {}
while true do local f = io.open("/dev/null") if not f then break end files[#files + 1] = f end
for _ = 1, 2 do print(async.exec({"true"})) files[#files]:close() files[#files] = nil end
for _, f in ipairs(files) do f:close() end
print(async.exec({"/nonexistent/program"}))
print(async.exec({"true"}):wait())
EOF
    run -0 bash -c 'ulimit -n 64 && "$0" emfile.lua' "$ASYNCRUN"
    assert_output - <<'EOF'
nil	Too many open files	24
nil	Too many open files	24
nil	/nonexistent/program: No such file or directory	2
0	nil
EOF
}

@test "--explore: a seed range past the largest seed is a usage error before the first run" {
    lua ran.lua <<'EOF'
io.open("ran", "a"):write("x")
EOF
    run -2 --separate-stderr "$ASYNCRUN" --explore=2 --seed=9223372036854775807 ran.lua
    stderr_has "asyncrun: --explore: 2 runs from seed 9223372036854775807 go past the largest seed, 9223372036854775807"
    [ ! -e ran ] || fail "a run was started"
    run -2 --separate-stderr env ASYNCRUN_SEED=9223372036854775800 "$ASYNCRUN" --explore=9 ran.lua
    [ ! -e ran ] || fail "a run was started"
    run -0 --separate-stderr "$ASYNCRUN" --explore=1 --seed=9223372036854775807 ran.lua
    stderr_has "1 run passed (seeds 9223372036854775807..9223372036854775807)"
}

# ptyrun STEPS... -- ARGS...: asyncrun on a pseudo-terminal; the last line of its output
# says the exit status and the terminal's modes once it has exited
ptyrun() {
    local steps=()
    while [ "$1" != -- ]; do steps+=("$1"); shift; done
    shift
    run -0 python3 "$PTYRUN" "${steps[@]}" -- "$ASYNCRUN" "$@"
}

@test "terminal: the state the run found is put back on every way out, while the prompt reads or not" {
    python3 -c 'import ctypes; ctypes.CDLL("libedit.so.2")' 2>/dev/null || skip "libedit.so.2 is not installed"
    # os.exit from another task while the prompt reads (the audit's case), with close too
    ptyrun 'wait:> ' -- -i -e 'async.spawn(function() async.sleep(0.2) os.exit(3) end)'
    assert_line --index -1 "status=3 icanon=on echo=on"
    ptyrun 'wait:> ' -- -i -e 'async.spawn(function() async.sleep(0.2) os.exit(true, true) end)'
    assert_line --index -1 "status=0 icanon=on echo=on"
    ptyrun 'wait:> ' 'send:async.spawn(function() async.sleep(0.2) os.exit(4) end)\n' -- -i
    assert_line --index -1 "status=4 icanon=on echo=on"
    # a signal and --timeout while the prompt reads
    ptyrun 'wait:> ' kill:TERM -- -i
    assert_line --index -1 "status=143 icanon=on echo=on"
    ptyrun 'wait:> ' -- --timeout=0.5 -i
    assert_line --index -1 "status=124 icanon=on echo=on"
    # without the prompt: a child changed the terminal; an error, a deadlock, a second Ctrl-C
    ptyrun -- -e 'os.execute("stty -echo -icanon") error("boom")'
    assert_line --index -1 "status=1 icanon=on echo=on"
    ptyrun -- -e 'os.execute("stty -echo -icanon") async.event():wait()'
    assert_line --index -1 "status=3 icanon=on echo=on"
    # (the pause lets the first SIGINT arrive on its own: two pending ones are one)
    ptyrun wait:ready kill:INT sleep:1 kill:INT -- -e 'os.execute("stty -echo -icanon") print("ready") while true do end'
    assert_line --index -1 "status=-2 icanon=on echo=on"
}

@test "a bad option's value is shown escaped in the usage error, never raw" {
    run -2 --separate-stderr "$ASYNCRUN" --timeout=$'\e[31mx' -e 1
    stderr_has "asyncrun: --timeout: '\\x1b[31mx' is not a positive number"
    run -2 --separate-stderr "$ASYNCRUN" $'--bogus\e]0;t\a' -e 1
    stderr_has "asyncrun: unrecognized option '--bogus\\x1b]0;t\\x07'"
    [[ $stderr != *$'\e'* ]] || fail "a raw escape in: $stderr"
}
