#!/usr/bin/env bats
# Processes anywhere: the SIGCHLD fallback where pidfd_open fails (forced with
# ASYNCRUN_NO_PIDFD=1, or by strace's fault injection), a process group per child that every
# kill reaches (no grandchild outlives the run), a terminal reader left in the foreground,
# and streams or Lua files as a child's stdin/stdout/stderr. Most tests run in both modes.
# Needs procps (pgrep, ps); strace and script (util-linux) tests skip without them.

load helpers

LUA_TESTS="$BATS_TEST_DIRNAME/lua"
MODES=("" 1) # ASYNCRUN_NO_PIDFD: pidfds, then the SIGCHLD fallback

setup() {
    clean_environment
    unset ASYNCRUN_NO_PIDFD
    marker="1000.$$$BATS_TEST_NUMBER" # `sleep $marker`: a grandchild to look for
    pid=
}

teardown() {
    [ -n "${pid:-}" ] && kill -KILL "$pid" 2>/dev/null
    pkill -KILL -f "sleep $marker" 2>/dev/null || true
}

# Fails if a live (not zombie) `sleep $marker` is left, after up to 2 s for SIGKILL to land.
no_survivor() {
    local i left
    for ((i = 0; i < 40; i++)); do
        left=$(ps -eo pid=,stat=,args= | awk -v m="$marker" '$2 !~ /^Z/ && $3 == "sleep" && $4 == m')
        [ -z "$left" ] && return 0
        sleep 0.05
    done
    fail "$1: left running: $left"
}

# The process tests of the Lua suite and of io.bats, under the fallback.

@test "tests/lua/process.lua and the process regress scripts pass with ASYNCRUN_NO_PIDFD=1" {
    cd "$LUA_TESTS"
    for f in process.lua ../regress/020-*.lua ../regress/021-*.lua; do
        ASYNCRUN_NO_PIDFD=1 LUA_PATH="$BATS_TEST_DIRNAME/lib/?.lua;;" run "$ASYNCRUN" "$f"
        [ "$status" -eq 0 ] || fail "$f: $output"
    done
}

@test "the process tests of io.bats pass with ASYNCRUN_NO_PIDFD=1" {
    ASYNCRUN_NO_PIDFD=1 run bats -f 'child|process|os.exit|shutdown' "$BATS_TEST_DIRNAME/io.bats"
    assert_success
    refute_output --partial 'not ok'
}

@test "clone3 and pidfd_open failing with ENOSYS (strace fault injection, Linux < 5.3): same results, popen keeps its status" {
    command -v strace >/dev/null || skip "strace is not installed (Debian package strace)"
    strace -f -o /dev/null -e trace=pidfd_open true 2>/dev/null || skip "ptrace is not allowed here"
    s=$(script <<'EOF'
local out, err, code = async.capture({ "sh", "-c", "echo out; echo err >&2; exit 3" })
print(out, err, code)
local p = async.exec({ "sh", "-c", "kill -TERM $$" })
print(p:wait())
print(io.popen("exit 5"):close())
print(os.execute("exit 6"))
local t = {}
for i = 1, 20 do
  t[i] = async.spawn(function() return select(3, async.capture({ "sh", "-c", "exit " .. i })) end)
end
local codes = async.gather(t)
print(table.concat(codes, " "))
EOF
)
    # LeakSanitizer cannot work under ptrace: off for this run of an ASan build
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        run --separate-stderr strace -f -o "$BATS_TEST_TMPDIR/strace" -e trace=clone3,pidfd_open \
        -e inject=clone3,pidfd_open:error=ENOSYS "$ASYNCRUN" "$s"
    assert_success
    assert_output "out
	err
	3
nil	TERM
nil	exit	5
nil	exit	6
1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"
    grep -q 'clone3.*ENOSYS (Function not implemented) (INJECTED)' "$BATS_TEST_TMPDIR/strace"
    grep -q 'pidfd_open.*ENOSYS (Function not implemented) (INJECTED)' "$BATS_TEST_TMPDIR/strace"
}

# The two ways of starting a child: spawn.c's clone3, which does not wait for the exec, and
# posix_spawn where clone3 fails (valgrind, seccomp, Linux < 5.3), forced by fault injection.
spawn_ways() {
    ways=("")
    if command -v strace >/dev/null && strace -f -o /dev/null -e trace=clone3 true 2>/dev/null; then
        ways+=("strace -f -o $BATS_TEST_TMPDIR/strace -e trace=clone3 -e inject=clone3:error=ENOSYS")
        export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 # none under ptrace
    fi
}

@test "clone3 failing (posix_spawn): tests/lua/process.lua passes; clone3 working: no vfork" {
    spawn_ways
    [ ${#ways[@]} -eq 2 ] || skip "strace is not installed or ptrace is not allowed"
    cd "$LUA_TESTS"
    LUA_PATH="$BATS_TEST_DIRNAME/lib/?.lua;;" run ${ways[1]} "$ASYNCRUN" process.lua
    [ "$status" -eq 0 ] || fail "$output"
    grep -q 'clone3.*ENOSYS (Function not implemented) (INJECTED)' "$BATS_TEST_TMPDIR/strace"
    grep -q 'CLONE_VM|CLONE_VFORK' "$BATS_TEST_TMPDIR/strace" # posix_spawn's fallback to clone
    run strace -f -o "$BATS_TEST_TMPDIR/strace2" -e trace=clone,clone3,vfork "$ASYNCRUN" -e 'async.exec({"true"}):wait()'
    assert_success
    grep -q 'clone3({flags=CLONE_VM|CLONE_PIDFD, ' "$BATS_TEST_TMPDIR/strace2"
    run grep -c 'VFORK' "$BATS_TEST_TMPDIR/strace2"
    assert_output 0
}

@test "PATH lookup as execvp's: a match without execute permission is passed over, EACCES only if nothing else matches; ENOEXEC" {
    spawn_ways
    d=$BATS_TEST_TMPDIR
    mkdir -p "$d/a" "$d/b" "$d/c"
    printf '#!/bin/sh\necho a\n' >"$d/a/prog" && chmod 644 "$d/a/prog"
    printf '#!/bin/sh\necho b\n' >"$d/b/prog" && chmod 755 "$d/b/prog"
    printf '#!/bin/sh\necho c\n' >"$d/c/prog" && chmod 755 "$d/c/prog"
    printf '\001\002 not a program\n' >"$d/c/garbage" && chmod 755 "$d/c/garbage"
    for way in "${ways[@]}"; do
        PATH="$d/a:$d/nosuchdir:$d/b:$PATH" run $way "$ASYNCRUN" -e 'print(async.capture({"prog"}))'
        assert_success
        assert_output $'b\n\t\t0\tnil'
        PATH="$d/a:$PATH" run $way "$ASYNCRUN" -e 'print(async.exec({"prog"}))'
        assert_output $'nil\tprog: Permission denied\t13'
        # an empty element is the current directory
        (cd "$d/c" && PATH="$d/nosuchdir::$PATH" run $way "$ASYNCRUN" -e 'print(async.capture({"prog"}))'
         assert_output $'c\n\t\t0\tnil')
        run $way "$ASYNCRUN" -e "print(async.exec({'$d/c/garbage'}))"
        assert_output $'nil\t'"$d"$'/c/garbage: Exec format error\t8'
        run $way "$ASYNCRUN" -e "print(async.exec({''}))"
        assert_output $'nil\t: No such file or directory\t2'
    done
}

@test "the fallback: a deadlock is still seen, a waiting task is not taken for one" {
    for mode in "${MODES[@]}"; do
        ASYNCRUN_NO_PIDFD=$mode run "$ASYNCRUN" -e 'print(async.exec({"sleep", "0.2"}):wait())'
        assert_success
        assert_output $'0\tnil'
    done
}

@test "trace events are the same in both modes" {
    for mode in "${MODES[@]}"; do
        ASYNCRUN_NO_PIDFD=$mode run "$ASYNCRUN" --trace=json --trace-file="$BATS_TEST_TMPDIR/t$mode.jsonl" \
            -e 'async.exec({"sleep", "0.1"}):wait()'
        assert_success
        grep -o '"event":"[^"]*"\|"on":"[a-z]*' "$BATS_TEST_TMPDIR/t$mode.jsonl" >"$BATS_TEST_TMPDIR/e$mode"
    done
    grep -q '"on":"process' "$BATS_TEST_TMPDIR/e"
    diff "$BATS_TEST_TMPDIR/e" "$BATS_TEST_TMPDIR/e1"
}

# Process groups: no grandchild outlives a kill.

@test "a capture's timeout kills the child's group: no grandchild survives" {
    for mode in "${MODES[@]}"; do
        ASYNCRUN_NO_PIDFD=$mode run "$ASYNCRUN" -e "
            print(pcall(async.timeout, 0.3, async.capture, {'sh', '-c', 'sleep $marker & sleep $marker; wait'}))"
        assert_success
        assert_output --partial 'false'
        no_survivor "timeout, mode '$mode'"
    done
}

@test "p:kill() signals the group; opts.group = false signals the child alone" {
    for mode in "${MODES[@]}"; do
        ASYNCRUN_NO_PIDFD=$mode run "$ASYNCRUN" -e "
            local p = async.exec({'sh', '-c', 'sleep $marker & sleep $marker; wait'})
            async.sleep(0.2)
            assert(p:kill())
            print(p:wait())"
        assert_success
        assert_output $'nil\tTERM'
        no_survivor "p:kill, mode '$mode'"
    done
    run "$ASYNCRUN" -e "
        local p = async.exec({'sh', '-c', 'sleep $marker & echo \$!; wait'}, {group = false, stdout = 'pipe'})
        local gc = p.stdout:read('l')
        p:kill('KILL'); p:wait()
        local ps = io.popen('ps -o pgid= -p ' .. gc):read('a')
        os.execute('kill ' .. gc)
        print(tonumber(ps) == tonumber(io.popen('ps -o pgid= -p \$PPID'):read('a')))"
    assert_success
    assert_output 'true'
}

@test "a child leads its own process group; with group = false it shares asyncrun's" {
    run "$ASYNCRUN" -e "
        local me = tonumber(io.popen('ps -o pgid= -p \$PPID'):read('a'))
        local out = async.capture({'sh', '-c', 'echo \$\$ \$(ps -o pgid= -p \$\$)'})
        local pid, pgid = out:match('(%d+) +(%d+)')
        print(pid == pgid, tonumber(pgid) ~= me)
        out = async.capture({'sh', '-c', 'ps -o pgid= -p \$\$'}, {group = false})
        print(tonumber(out) == me)"
    assert_success
    assert_output $'true\ttrue\ntrue'
}

@test "the shutdown kill, an error exit and os.exit kill whole groups" {
    for mode in "${MODES[@]}"; do
        for end in "" "error('boom')" "os.exit(3)" "os.exit(3, true)"; do
            ASYNCRUN_NO_PIDFD=$mode run "$ASYNCRUN" -e "
                async.exec({'sh', '-c', 'sleep $marker & sleep $marker; wait'})
                async.sleep(0.2) $end"
            no_survivor "end '$end', mode '$mode'"
        done
    done
}

@test "--timeout (124) and SIGTERM (143) kill whole groups" {
    for mode in "${MODES[@]}"; do
        ASYNCRUN_NO_PIDFD=$mode run "$ASYNCRUN" --timeout 0.5 -e "
            print(async.capture({'sh', '-c', 'sleep $marker & sleep $marker; wait'}))"
        assert_equal "$status" 124
        no_survivor "--timeout, mode '$mode'"
        ASYNCRUN_NO_PIDFD=$mode "$ASYNCRUN" -e "
            print('ready'); io.stdout:flush()
            async.exec({'sh', '-c', 'sleep $marker & sleep $marker; wait'}):wait()" \
            >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
        pid=$!
        wait_for_line "$BATS_TEST_TMPDIR/out" ready
        sleep 0.2
        kill -TERM "$pid"
        wait_exit 5
        assert_equal "$status" 143
        no_survivor "SIGTERM, mode '$mode'"
    done
}

# A terminal: a child reading it stays in the foreground; Ctrl-C.

@test "pty: a child reading the terminal can read it; Ctrl-C cancels the run and kills the groups" {
    command -v script >/dev/null || skip "script is not installed (Debian package bsdutils)"
    s=$(script <<EOF
local p = async.exec({ "sh", "-c", "read line; echo got \$line" })
print(p:wait())
async.exec({ "sh", "-c", "sleep $marker & sleep $marker; wait" }, { stdin = "null" })
print("ready")
io.stdout:flush()
async.sleep(100)
EOF
)
    mkfifo "$BATS_TEST_TMPDIR/in"
    # a background job of a script starts with SIGINT ignored: give asyncrun the default back
    command script -qec "env --default-signal=INT $ASYNCRUN $s" /dev/null <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 &
    pid=$!
    exec 5>"$BATS_TEST_TMPDIR/in"
    printf 'hello\n' >&5
    for ((i = 0; i < 100; i++)); do
        grep -q ready "$BATS_TEST_TMPDIR/out" && break
        sleep 0.05
    done
    sleep 0.2
    printf '\003' >&5
    err="$BATS_TEST_TMPDIR/out" wait_exit 5
    exec 5>&-
    assert_equal "$status" 130
    run cat "$BATS_TEST_TMPDIR/out"
    assert_output --partial 'got hello'
    assert_output --partial $'0\tnil'
    assert_output --partial 'ready'
    refute_output --partial 'Stopped'
    no_survivor "Ctrl-C"
}

# Streams and files as a child's stdio.

@test "a pipeline: a's stdout handed to b's stdin; the parent's copy is closed" {
    for mode in "${MODES[@]}"; do
        ASYNCRUN_NO_PIDFD=$mode run "$ASYNCRUN" -e '
            local a = async.exec({"seq", "1000"}, {stdout = "pipe"})
            local b = async.exec({"grep", "^5"}, {stdin = a.stdout, stdout = "pipe"})
            local c = async.exec({"wc", "-l"}, {stdin = b.stdout, stdout = "pipe"})
            print(c.stdout:read("a"), a:wait(), b:wait(), c:wait())
            print(pcall(a.stdout.read, a.stdout))'
        assert_success
        assert_output "111
	0	0	0	nil
false	attempt to use a closed stream"
    done
}

@test "Lua files as stdin and stdout (io.open, io.tmpfile); what the script wrote comes first" {
    printf 'b\na\nc\n' >"$BATS_TEST_TMPDIR/in"
    run "$ASYNCRUN" -e "
        local out = io.open('$BATS_TEST_TMPDIR/out', 'w')
        out:write('sorted:\n')
        assert(async.exec({'sort'}, {stdin = io.open('$BATS_TEST_TMPDIR/in'), stdout = out}):wait() == 0)
        out:write('end\n'); out:close()
        local t = io.tmpfile()
        assert(async.exec({'echo', 'tmp'}, {stdout = t}):wait() == 0)
        t:seek('set'); io.write(t:read('a'))"
    assert_success
    assert_output 'tmp'
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" $'sorted:\na\nb\nc\nend'
}

@test "stderr = \"stdout\" is 2>&1 for exec and capture; async.stderr and io.stderr as stdout" {
    run --separate-stderr "$ASYNCRUN" -e '
        local p = async.exec({"sh", "-c", "echo 1; echo 2 >&2; echo 3"}, {stdout = "pipe", stderr = "stdout"})
        io.write(p.stdout:read("a")); print(p.stderr, p:wait())
        print(async.capture({"sh", "-c", "echo a; echo b >&2"}, {stderr = "stdout"}))
        async.exec({"echo", "to stderr"}, {stdout = async.stderr}):wait()
        async.exec({"echo", "to io.stderr"}, {stdout = io.stderr, stderr = async.stdout}):wait()'
    assert_success
    assert_output $'1\n2\n3\nnil\t0\tnil\na\nb\n\t\t0\tnil'
    assert_equal "$stderr" $'to stderr\nto io.stderr'
}

@test "a unix stream as a child's stdout; the parent keeps it open" {
    run "$ASYNCRUN" -e "
        local got = async.future()
        local srv = async.unix.listen('$BATS_TEST_TMPDIR/sock', function(s) got:set(s:read('a')) end)
        local c = async.unix.connect('$BATS_TEST_TMPDIR/sock')
        async.exec({'echo', 'over the socket'}, {stdout = c}):wait()
        c:write('and from the parent\n'); c:close()
        io.write(got:await()); srv:close()"
    assert_success
    assert_output $'over the socket\nand from the parent'
}

@test "bad stdio values raise errors naming the field" {
    run "$ASYNCRUN" -e "
        local a = async.exec({'true'}, {stdout = 'pipe'}); a.stdout:close(); a:wait()
        local f = io.tmpfile(); f:close()
        local srv = async.unix.listen('$BATS_TEST_TMPDIR/s', function() end)
        for _, o in ipairs({ {stdin = a.stdout}, {stdout = f}, {stderr = srv}, {stdin = 42},
                             {stdout = 'stdout'}, {group = 1} }) do
            print(select(2, pcall(async.exec, {'true'}, o)))
        end
        print(select(2, pcall(async.capture, {'true'}, {stderr = 'pipe'})))
        srv:close()"
    assert_success
    assert_output "bad argument #2 to 'exec' (opts.stdin is a closed stream)
bad argument #2 to 'exec' (opts.stdout is a closed file)
bad argument #2 to 'exec' (opts.stderr must be \"inherit\", \"pipe\", \"null\", \"stdout\", a stream or a file)
bad argument #2 to 'exec' (opts.stdin must be \"inherit\", \"pipe\", \"null\", a stream or a file)
bad argument #2 to 'exec' (opts.stdout must be \"inherit\", \"pipe\", \"null\", a stream or a file)
bad argument #2 to 'exec' (opts.group must be a boolean)
bad argument #2 to 'capture' (opts.stderr must be \"stdout\" (2>&1) or nil)"
}

@test "--strict: capture's readers left pending are listed at the user's capture call, never at asyncrun's code" {
    local s
    s=$(script cap.lua <<'EOF_LUA'
local function run()
  return async.capture({"sleep", "5"})
end
async.spawn(run)
async.sleep(0.2)
EOF_LUA
)
    run --separate-stderr timeout 20 "$ASYNCRUN" --strict "$s"
    assert_failure 1
    stderr_has "task 2 (task-2) pending, waiting on tasks:2 at $s:2"
    [ "$(grep -c "pending, waiting on read:[0-9]*, spawned at $s:2 (its body is asyncrun's own)" <<< "$stderr")" -eq 2 ] \
        || fail "$stderr"
    [[ $stderr != *"[async]"* && $stderr != *" at ?"* ]] || fail "$stderr"
    run --separate-stderr timeout 20 "$ASYNCRUN" --trace "$s"
    [[ $stderr != *"[async]"* && $stderr != *"at=?"* ]] || fail "$stderr"
}
