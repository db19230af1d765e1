#!/usr/bin/env bats
# The examples in examples/ do what their header comments promise, against local peers only
# (127.0.0.1): python3's http.server and sockets, curl. Needs python3 and curl (Debian
# packages python3 and curl); the tests that need a missing one are skipped.

load helpers

EX="$BATS_TEST_DIRNAME/../examples"

setup() {
    clean_environment
    pids=()
}

teardown() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

need() { # need COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null || skip "$1 is not installed (Debian package $2)"
}

# Prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs in the background a python3 listener on 127.0.0.1:PORT that accepts nothing, after
# DELAY seconds; it writes "up" to FILE once it listens.
listen_later() { # listen_later PORT DELAY FILE
    (sleep "$2" && exec python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("up", flush=True)
time.sleep(60)' "$1" > "$3") 3>&- &
    pids+=($!)
}

# Waits up to 10 s until FILE has a line matching REGEX.
await_line() { # await_line FILE REGEX
    local i
    for i in $(seq 200); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "no line matching '$2' in $1 after 10 s: $(cat "$1" 2>/dev/null)"
}

# Serves DIR over HTTP on 127.0.0.1 and sets $base to its URL.
serve() { # serve DIR
    local port
    port=$(free_port)
    python3 -m http.server --bind 127.0.0.1 --directory "$1" "$port" \
        > "$BATS_TEST_TMPDIR/http.log" 2>&1 3>&- &
    pids+=($!)
    run -0 "$ASYNCRUN" "$EX/wait_for_port.lua" 127.0.0.1 "$port" 10
    base="http://127.0.0.1:$port"
}

# --- parallel_downloads.lua ----------------------------------------------------------------

# Six files of different sizes in $BATS_TEST_TMPDIR/site; the downloads go to .../out.
make_site() {
    mkdir -p "$BATS_TEST_TMPDIR/site" "$BATS_TEST_TMPDIR/out"
    local i
    for i in 1 2 3 4 5 6; do
        head -c $((i * 10000 + 7)) /dev/urandom > "$BATS_TEST_TMPDIR/site/file$i.bin"
    done
}

@test "parallel_downloads fetches six files, two at a time" {
    need python3 python3
    make_site
    serve "$BATS_TEST_TMPDIR/site"
    cd "$BATS_TEST_TMPDIR/out"
    run -0 --separate-stderr "$ASYNCRUN" --trace "$EX/parallel_downloads.lua" \
        "$base/file1.bin" "$base/file2.bin" "$base/file3.bin" --jobs 2 \
        "$base/file4.bin" "$base/file5.bin" "$base/file6.bin"
    [ "${#lines[@]}" -eq 6 ] || fail "expected 6 lines"
    local i
    for i in 1 2 3 4 5 6; do
        cmp "$BATS_TEST_TMPDIR/site/file$i.bin" "file$i.bin"
        assert_line "ok     $base/file$i.bin -> file$i.bin ($((i * 10000 + 7)) bytes)"
    done
    # never more than two requests in flight, and two did run together: a task suspends on
    # the request when it starts and the http event marks its end
    peak=$(awk '/event=suspend .* on=http:/ { n++; if (n > max) max = n } / event=http / { n-- }
                END { print max }' <<< "$stderr")
    assert_equal "$peak" 2
}

@test "parallel_downloads reports a missing file and exits 1" {
    need python3 python3
    make_site
    serve "$BATS_TEST_TMPDIR/site"
    cd "$BATS_TEST_TMPDIR/out"
    run -1 "$ASYNCRUN" "$EX/parallel_downloads.lua" --jobs 2 \
        "$base/file1.bin" "$base/missing.txt" "$base/file2.bin"
    assert_line "ok     $base/file1.bin -> file1.bin (10007 bytes)"
    assert_line "ok     $base/file2.bin -> file2.bin (20007 bytes)"
    assert_line "failed $base/missing.txt: HTTP status 404"
    [ ! -e missing.txt ] || fail "the failed download left a file"
    cmp "$BATS_TEST_TMPDIR/site/file2.bin" file2.bin
}

@test "parallel_downloads: usage errors exit 2" {
    run -2 --separate-stderr "$ASYNCRUN" "$EX/parallel_downloads.lua"
    stderr_has "no URL given"
    run -2 --separate-stderr "$ASYNCRUN" "$EX/parallel_downloads.lua" http://127.0.0.1/ --jobs 0
    stderr_has "--jobs wants a positive integer"
}

# --- wait_for_port.lua ---------------------------------------------------------------------

@test "wait_for_port: an open port answers at once" {
    need python3 python3
    local port
    port=$(free_port)
    listen_later "$port" 0 "$BATS_TEST_TMPDIR/up"
    await_line "$BATS_TEST_TMPDIR/up" '^up$'
    run -0 timeout 2 "$ASYNCRUN" "$EX/wait_for_port.lua" 127.0.0.1 "$port" 10
    assert_output ""
}

@test "wait_for_port: waits for a port that opens after 0.5 s" {
    need python3 python3
    local port
    port=$(free_port)
    listen_later "$port" 0.5 "$BATS_TEST_TMPDIR/up"
    run -0 timeout 8 "$ASYNCRUN" "$EX/wait_for_port.lua" 127.0.0.1 "$port" 10
    assert_output ""
    [ "$(cat "$BATS_TEST_TMPDIR/up")" = up ] || fail "returned before the listener was up"
}

@test "wait_for_port: nothing listening, 1 s deadline: exit 1 within 3 s" {
    need python3 python3
    local port
    port=$(free_port)
    run -1 --separate-stderr timeout 3 "$ASYNCRUN" "$EX/wait_for_port.lua" 127.0.0.1 "$port" 1
    assert_equal "$stderr" \
        "wait_for_port: 127.0.0.1:$port not open after 1 s (Connection refused)"
}

@test "wait_for_port: usage errors exit 2" {
    run -2 --separate-stderr "$ASYNCRUN" "$EX/wait_for_port.lua" 127.0.0.1
    stderr_has "usage: wait_for_port.lua HOST PORT [SECONDS]"
    run -2 --separate-stderr "$ASYNCRUN" "$EX/wait_for_port.lua" 127.0.0.1 80 soon
}

# --- pipeline.lua --------------------------------------------------------------------------

@test "pipeline: 200 lines come out transformed, in input order" {
    seq 1 200 | sed 's/^/line number /' > "$BATS_TEST_TMPDIR/in"
    awk '{ print toupper($0) "\t" length($0) }' "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/want"
    run -0 "$ASYNCRUN" "$EX/pipeline.lua" < "$BATS_TEST_TMPDIR/in"
    assert_output "$(cat "$BATS_TEST_TMPDIR/want")"
    # one worker, and more workers than lines
    run -0 bash -c 'head -40 "$1" | "$2" "$3" 1' _ "$BATS_TEST_TMPDIR/in" "$ASYNCRUN" "$EX/pipeline.lua"
    assert_output "$(head -40 "$BATS_TEST_TMPDIR/want")"
    run -0 bash -c 'head -3 "$1" | "$2" "$3" 50' _ "$BATS_TEST_TMPDIR/in" "$ASYNCRUN" "$EX/pipeline.lua"
    assert_output "$(head -3 "$BATS_TEST_TMPDIR/want")"
}

@test "pipeline: empty input, empty output" {
    run -0 "$ASYNCRUN" "$EX/pipeline.lua" < /dev/null
    assert_output ""
}

# --- chat_server.lua -----------------------------------------------------------------------

@test "chat_server: two clients see each other's lines and the departure" {
    need python3 python3
    local log="$BATS_TEST_TMPDIR/chat.log"
    "$ASYNCRUN" "$EX/chat_server.lua" 0 > "$log" 2>&1 3>&- &
    pids+=($!)
    await_line "$log" '^listening on [0-9]+$'
    local port
    port=$(sed -n 's/^listening on //p' "$log")
    run -0 timeout 20 python3 - "$port" <<'EOF'
import socket, sys
port = int(sys.argv[1])

def join(name):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rw", newline="\n")
    f.write(name + "\n")
    f.flush()
    return s, f

def say(who, f, text):
    f.write(text + "\n")
    f.flush()

def hear(who, f):
    print(who + " < " + f.readline().rstrip("\n"))

a, af = join("alice")
hear("alice", af)
b, bf = join("bob")
hear("bob", bf)
hear("alice", af)
say("alice", af, "hi bob")
hear("bob", bf)
say("bob", bf, "hello alice, bye")
hear("alice", af)
bf.close()
b.close()
hear("alice", af)
EOF
    assert_output "alice < welcome alice (1 online)
bob < welcome bob (2 online)
alice < * bob joined
bob < alice: hi bob
alice < bob: hello alice, bye
alice < * bob left"
    await_line "$log" '^alice left$'
    run -0 cat "$log"
    assert_output --regexp "^listening on $port
alice joined
bob joined
bob left
alice left$"
}

# --- count_matches.lua ---------------------------------------------------------------------

@test "count_matches: grep | wc -l per file, two at a time, summed; an unreadable file exits 2" {
    printf 'apple\nbanana\napple pie\n' >"$BATS_TEST_TMPDIR/a"
    printf 'pear\n' >"$BATS_TEST_TMPDIR/b"
    seq 1000 | sed 's/^/apple /' >"$BATS_TEST_TMPDIR/c"
    cd "$BATS_TEST_TMPDIR"
    run --separate-stderr "$ASYNCRUN" "$EX/count_matches.lua" --jobs 2 apple a b c
    assert_success
    assert_output $'2\ta\n0\tb\n1000\tc\n1002\ttotal'
    run -2 --separate-stderr "$ASYNCRUN" "$EX/count_matches.lua" apple a missing
    assert_output $'2\ta\n0\tmissing\n2\ttotal'
    stderr_has "missing"
    run -2 --separate-stderr "$ASYNCRUN" "$EX/count_matches.lua" apple
    stderr_has "usage"
}

# --- jobs.lua ------------------------------------------------------------------------------

@test "jobs: a limit, a per-job timeout that kills what the job started, statuses" {
    local marker="100.$$$BATS_TEST_NUMBER"
    printf '%s\n' 'echo one' '# a comment' "sleep $marker & sleep $marker; echo never" \
        'echo err >&2; exit 3' 'kill -TERM $$' >"$BATS_TEST_TMPDIR/jobs"
    run "$ASYNCRUN" "$EX/jobs.lua" --limit 2 --timeout 0.5 "$BATS_TEST_TMPDIR/jobs"
    if pkill -KILL -f "sleep $marker"; then fail "a job's background process outlived its timeout"; fi
    assert_failure 1
    assert_line --regexp '^== \[1\] echo one: exit 0 \('
    assert_line 'one'
    assert_line --regexp '^== \[2\] sleep .*: timed out after 0.5 s, killed'
    assert_line --regexp '^== \[3\] echo err >&2; exit 3: exit 3'
    assert_line 'err'
    assert_line --regexp '^== \[4\] kill -TERM \$\$: killed by TERM'
    refute_line never
    run sh -c "printf 'echo a\necho b\n' | '$ASYNCRUN' '$EX/jobs.lua' --limit 1"
    assert_success
    assert_output --regexp $'^== \\[1\\] echo a: exit 0 \\([0-9.]+ s\\)\na\n== \\[2\\] echo b: exit 0'
    run -2 "$ASYNCRUN" "$EX/jobs.lua" --limit 0
}
