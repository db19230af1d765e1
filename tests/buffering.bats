#!/usr/bin/env bats
# Buffered streams (SPEC §4 "Buffering", issue 14): when output leaves a stream's buffer
# (full, before the loop waits, flush, close, every exit path), setvbuf, deferred write
# errors, program order with print and io.write, and Lua's read("n") and seek on streams.

load helpers

setup() {
    clean_environment
}

teardown() {
    if [ -n "${pid:-}" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}

# Runs asyncrun -e "$1" with its stdout into a pipe whose reader prints the first line and
# the whole seconds it waited for it, then drains the rest.
first_line_after() {
    bash -c '"$1" -e "$2" | { s=$(date +%s%N); IFS= read -r l; e=$(date +%s%N)
        echo "$l $(( (e - s) / 1000000000 ))"; cat >/dev/null; }' _ "$ASYNCRUN" "$1"
}

# ---------------------------------------------------------------- when output leaves

@test "a pipe reader sees what was written while the writer sleeps (write, io.write, print)" {
    for w in 'async.stdout:write("first\n")' 'io.write("first\n")' 'print("first")' \
        'local s <close> = async.stdout async.stdout:write("fir", "st\n")'; do
        run -0 first_line_after "$w async.sleep(2) async.stdout:write(\"late\n\")"
        assert_output "first 0"
    done
}

@test "tasks that keep yielding (the loop never sleeps) do not hold another task's output" {
    run -0 first_line_after 'async.spawn(function() local t = os.clock() while os.clock() - t < 2 do async.sleep(0) end end)
        async.stdout:write("first\n") async.sleep(2)'
    assert_output "first 0"
}

@test "full buffering holds small writes while the task runs, and sends them before it waits" {
    # a busy step of 3 s of CPU: nothing reaches the reader before it ends (a lower bound,
    # 1 s of slack for a reader that starts its clock late; a loaded machine may stretch the
    # 3 s of CPU time to more than twice as long)
    run -0 first_line_after 'async.stdout:write("first\n")
        local t = os.clock() while os.clock() - t < 3 do end async.sleep(3)'
    assert_output --regexp '^first ([2-9]|1[0-9])$'
}

@test "setvbuf 'no' and 'line' hand the bytes over before write returns" {
    run -0 first_line_after 'async.stdout:setvbuf("no") async.stdout:write("fi", "rst") async.stdout:write("\n")
        local t = os.clock() while os.clock() - t < 2 do end'
    assert_output "first 0"
    run -0 first_line_after 'assert(async.stdout:setvbuf("line") == true) async.stdout:write("first\nsecond")
        local t = os.clock() while os.clock() - t < 2 do end'
    assert_output "first 0"
}

@test "a terminal is line buffered by default, a pipe fully" {
    command -v script >/dev/null || skip "script (util-linux) is not installed"
    run -0 bash -c 'script -qec "$1 -e \"async.stdout:write([[tty]], string.char(10)) local t = os.clock() while os.clock() - t < 3 do end\"" /dev/null |
        { s=$(date +%s); IFS= read -r l; echo "${l%$'\''\r'\''} $(( $(date +%s) - s ))"; cat >/dev/null; }' _ "$ASYNCRUN"
    assert_output --regexp '^tty [01]$'
}

@test "setvbuf: a bad mode or size raises, naming the argument" {
    run -1 "$ASYNCRUN" -e 'async.stdout:setvbuf("x")'
    assert_output --partial "bad argument #1 to 'setvbuf' (invalid option 'x')"
    run -1 "$ASYNCRUN" -e 'async.stdout:setvbuf()'
    assert_output --partial "bad argument #1 to 'setvbuf'"
    run -1 "$ASYNCRUN" -e 'async.stdout:setvbuf("full", -1)'
    assert_output --partial "bad argument #2 to 'setvbuf'"
    run -0 "$ASYNCRUN" -e 'async.stdout:write("a") print(async.stdout:setvbuf("full", 10)) async.stdout:write(string.rep("b", 25), "\n")'
    assert_output "atrue
$(printf 'b%.0s' {1..25})"
}

@test "flush returns the stream; a closed stream raises" {
    run -0 bash -c '"$1" -e "local s = async.stdout s:write(\"x\")
        assert(s:flush() == s) io.stderr:write(\"flushed\n\") s:write(\"y\n\")" 2>&1' _ "$ASYNCRUN"
    assert_output "xflushed
y"
    run -1 "$ASYNCRUN" -e 'local p = async.exec({"cat"}, {stdin = "pipe", stdout = "null"}) p.stdin:close() p.stdin:flush()'
    assert_output --partial "attempt to use a closed stream"
}

@test "program order across print, io.write, io.stdout:write and async.stdout:write (pipe and file)" {
    code='
        local big = string.rep("B", 100000)
        print("1") async.stdout:write("2\n") io.write("3\n") async.stdout:write("4\n")
        io.stdout:write("5\n") async.stdout:write("6", big, "\n") print("7" .. big)
        async.stdout:write("8\n") io.write(string.rep("w", 5000), "\n") async.stdout:write("9\n")
        async.sleep(0.01) print("10") async.stdout:write("11\n") async.sleep(0) io.write("12\n")
        async.stderr:write("e\n") print("13") os.execute("echo 14") async.stdout:write("15\n")
        local p = async.exec({"echo", "16"}) p:wait() async.stdout:write("17\n")'
    expected=$(printf '%s\n' 1 2 3 4 5 "6B" "7B" 8 ww 9 10 11 12 13 14 15 16 17)
    run -0 bash -c '"$1" -e "$2" 2>/dev/null | cut -c1-2 | cat' _ "$ASYNCRUN" "$code"
    assert_output "$expected"
    "$ASYNCRUN" -e "$code" > "$BATS_TEST_TMPDIR/out" 2>/dev/null
    run -0 cut -c1-2 "$BATS_TEST_TMPDIR/out"
    assert_output "$expected"
}

@test "10^6 small writes reach a slow reader whole, in bounded memory" {
    run -0 bash -c '"$1" -e "local s = async.stdout for i = 1, 1e6 do s:write(\"abcdefg\", \"\n\") end
        io.stderr:write(collectgarbage(\"count\") < 4096 and \"small\n\" or \"big\n\")" 2>"$2" |
        (sleep 1; wc -c)' _ "$ASYNCRUN" "$BATS_TEST_TMPDIR/err"
    assert_output 8000000
    assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" small
}

# ---------------------------------------------------------------- every exit path

@test "every exit path keeps what was written: end, error, os.exit, deadlock, --timeout" {
    for c in 'async.stdout:write("kept\n")|0' 'async.stdout:write("kept\n") error("boom")|1' \
        'async.stdout:write("kept\n") os.exit(5)|5' 'async.stdout:write("kept\n") os.exit(true, true)|0' \
        'async.stdout:write("kept\n") async.event():wait()|3' \
        'async.stdout:write("kept\n") async.sleep(10)|124'; do
        run bash -c '"$1" --timeout 0.5 -e "$2" 2>/dev/null | cat' _ "$ASYNCRUN" "${c%|*}"
        assert_output kept
        run bash -c '"$1" --timeout 0.5 -e "$2" >/dev/null 2>&1; echo $?' _ "$ASYNCRUN" "${c%|*}"
        assert_output "${c##*|}"
    done
}

@test "SIGINT and SIGTERM keep what was written (130, 143)" {
    for sig in INT:130 TERM:143; do
        env --default-signal=INT,TERM "$ASYNCRUN" \
            -e 'async.stdout:write("kept\n") async.stderr:write("ready\n") async.sleep(10)' \
            > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" 3>&- &
        pid=$!
        wait_for_line "$BATS_TEST_TMPDIR/err" ready
        kill -"${sig%:*}" "$pid"
        st=0
        wait "$pid" || st=$?
        pid=
        assert_equal "$st" "${sig#*:}"
        assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" kept
    done
}

@test "a writer cancelled while the reader is slow: what it buffered still arrives" {
    run -0 bash -c '"$1" -e "
        local t = async.spawn(function()
            async.stdout:write(string.rep(\"x\", 99999), \"\n\")
            async.stdout:write(string.rep(\"y\", 1000000))
        end)
        async.sleep(0.1) t:cancel() pcall(t.await, t)
        io.stderr:write(t:status(), \"\n\")" 2>"$2" | (sleep 0.5; head -1 | wc -c)' _ "$ASYNCRUN" "$BATS_TEST_TMPDIR/err"
    assert_output 100000
    assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" cancelled
}

@test "stdout's reader gone: buffered output at the end or before a wait still ends with 141 quietly" {
    for code in 'async.stdout:write("x")' 'async.sleep(0.3) async.stdout:write("late") async.sleep(0.3)' \
        'async.sleep(0.3) async.stdout:write("late") os.exit(0)'; do
        run -0 bash -c '"$1" -e "$2" 2>"$3" | (exit 0); echo "status ${PIPESTATUS[0]}"' \
            _ "$ASYNCRUN" "async.sleep(0.2) $code" "$BATS_TEST_TMPDIR/err"
        assert_output "status 141"
        assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""
    done
}

# ---------------------------------------------------------------- deferred errors

@test "EPIPE found by the background flush comes back from the next write, flush or close" {
    run -0 "$ASYNCRUN" -e '
        for _, last in ipairs({"write", "flush", "close"}) do
            local p = async.exec({"true"}, {stdin = "pipe"}) p:wait()
            assert(p.stdin:write("buffered") == p.stdin)
            async.sleep(0.01) -- the loop flushes before it waits: EPIPE, kept
            print(last, p.stdin[last](p.stdin, "x"))
            print(last, p.stdin:close())
        end'
    assert_output "write	nil	Broken pipe	32
write	true
flush	nil	Broken pipe	32
flush	true
close	nil	Broken pipe	32
close	true"
}

@test "ECONNRESET found by the background flush comes back from the next write" {
    run -0 "$ASYNCRUN" -e '
        local srv = async.tcp.listen("127.0.0.1", 0, function(s) async.sleep(0.1) s:close() end)
        local c = async.tcp.connect("127.0.0.1", srv:port())
        c:write("unread") async.sleep(0.3) -- closed with unread data: the peer resets
        assert(c:write("b") == c)
        async.sleep(0.1)
        print(c:write("c"))
        srv:close()'
    assert_output "nil	Connection reset by peer	104"
}

# ---------------------------------------------------------------- read("n"), seek

@test "read('n') and lines('n') answer as lua5.4's io does" {
    command -v lua5.4 >/dev/null || skip "lua5.4 is not installed"
    for input in '42' '  -7 x' '0x1F rest' '0x1p4' '1e3' '1.5e-2' '.5' '5.' '-.5e+1z' 'abc' '' \
        '- 3' '0x' '1e' '1e+' '00012' '0xg' '+3' "$(printf '1%.0s' {1..250})" "$(printf '9%.0s' {1..199})" \
        $'\n\t 12\n13' '3.14.15' 'inf' 'nan' '0x.8' '1 2 3 4'; do
        want=$(printf '%s' "$input" | lua5.4 -e 'print(io.read("n", "n", "l"))')
        run -0 bash -c 'printf "%s" "$2" | "$1" -e "print(async.stdin:read(\"n\", \"n\", \"l\"))"' _ "$ASYNCRUN" "$input"
        assert_output "$want"
    done
    run -0 bash -c 'printf "1 2.5 0x10 x" | "$1" -e "for n in async.stdin:lines(\"n\") do print(n) end"' _ "$ASYNCRUN"
    assert_output "1
2.5
16"
}

@test "read('n') waits for a numeral split across writes" {
    run -0 bash -c '{ printf "  12"; sleep 0.3; printf "34.5"; sleep 0.3; printf "e1 7"; } |
        "$1" -e "print(async.stdin:read(\"n\", \"n\"))"' _ "$ASYNCRUN"
    assert_output "12345.0	7"
}

@test "seek: Illegal seek on pipes and sockets; a regular file seeks as io does" {
    run -0 bash -c 'echo x | "$1" -e "print(async.stdin:seek()) print(async.stdout:seek(\"set\", 0))" | cat' _ "$ASYNCRUN"
    assert_output "nil	Illegal seek	29
nil	Illegal seek	29"
    printf 'hello world\n' > "$BATS_TEST_TMPDIR/f"
    run -0 "$ASYNCRUN" -e 'local s = async.stdin print(s:read(5), s:seek(), s:seek("set", 6), s:read("l"), s:seek("end"))' \
        < "$BATS_TEST_TMPDIR/f"
    assert_output "hello	5	6	world	12"
    run -1 "$ASYNCRUN" -e 'async.stdin:seek("x")' < "$BATS_TEST_TMPDIR/f"
    assert_output --partial "bad argument #1 to 'seek' (invalid option 'x')"
}

@test "a stream handed to a child as its stdout gets what the script buffered in it first" {
    printf '%s\n' 'local a = async.exec({"cat"}, {stdin = "pipe", stdout = "pipe"})' \
        'a.stdin:write("first\n")' \
        'local b = async.exec({"sh", "-c", "echo second"}, {stdout = a.stdin})' \
        'b:wait()' 'io.write(a.stdout:read("a"))' 'a:wait()' > "$BATS_TEST_TMPDIR/handed.lua"
    run -0 "$ASYNCRUN" "$BATS_TEST_TMPDIR/handed.lua"
    assert_output "first
second"
}

@test "setvbuf with a new size never waits for a reader, however much the buffer holds" {
    run -0 --separate-stderr timeout 20 "$ASYNCRUN" -e '
        local ticks = 0
        async.spawn(function() while true do async.sleep(0.01) ticks = ticks + 1 end end)
        local p = assert(async.exec({ "sleep", "30" }, { stdin = "pipe" }))
        p.stdin:setvbuf("full", 1 << 20)
        assert(p.stdin:write(string.rep("x", 1 << 20))) -- held: the pipe takes 64 KiB
        local t0 = async.now()
        print(p.stdin:setvbuf("full", 4096), async.now() - t0 < 1)
        local before = ticks
        async.sleep(0.2)
        print(ticks > before)
        p:kill()'
    assert_output $'true\ttrue\ntrue'
}
