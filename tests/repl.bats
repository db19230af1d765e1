#!/usr/bin/env bats
# The interactive prompt: piped input (lua's rules for expressions, continuation lines and
# errors) and a real terminal in tmux (tasks run while the prompt waits, Ctrl-C cancels the
# running chunk or drops the line being typed, history with the Up key, Ctrl-D ends).

load helpers

teardown() {
    [ -z "${sock:-}" ] || tmux -S "$sock" kill-server 2>/dev/null || true
}

@test "-i with piped input: =expr, expressions, continuation lines, errors, awaiting" {
    run -0 --separate-stderr "$ASYNCRUN" -i <<'EOF2'
x = 1 + 1
=x
x * 10
for i = 1, 2 do
print("line", i)
end
error("boom")
t = async.spawn(function() async.sleep(0.05) return 42 end)
t:await()
EOF2
    assert_line --index 0 --regexp '^asyncrun [0-9.]+ \(Lua 5\.4'
    assert_output --partial "> 2"
    assert_output --partial "> 20"
    assert_output --partial "line	1"
    assert_output --partial "line	2"
    assert_output --partial "> 42"
    [[ "$stderr" == *"stdin:1: boom"* ]]
}

@test "-i runs after the script, in the same globals" {
    s=$(script <<'EOF2'
greeting = "hi from the script"
EOF2
)
    run -0 "$ASYNCRUN" -i "$s" <<<'=greeting'
    assert_output --partial "hi from the script"
}

@test "a terminal: tasks run while the prompt waits, Ctrl-C cancels the chunk, Ctrl-D ends" {
    command -v tmux >/dev/null || skip "tmux is not installed"
    sock="$BATS_TEST_TMPDIR/tmux.sock"
    tmux -S "$sock" new-session -d -s t -x 120 -y 30 "$ASYNCRUN; echo status=\$?; sleep 30"
    send() { tmux -S "$sock" send-keys -t t "$@"; }
    screen() { tmux -S "$sock" capture-pane -t t -p; }
    wait_for() {
        for _ in $(seq 100); do screen | grep -q -- "$1" && return 0; sleep 0.1; done
        screen; return 1
    }
    wait_for '^>'
    send 't = async.spawn(function() for i = 1, 3 do async.sleep(0.2) print("tick", i) end end)' Enter
    wait_for 'tick *3'
    send 'async.sleep(30)' Enter
    sleep 0.3
    send C-c
    wait_for 'cancelled: interrupted'
    send '=6*7' Enter
    wait_for '^42'
    send Up Enter   # history: the same line again
    for _ in $(seq 50); do [ "$(screen | grep -c '^42')" -ge 2 ] && break; sleep 0.1; done
    [ "$(screen | grep -c '^42')" -ge 2 ] || { screen; false; }
    send 'abc'
    wait_for '^> abc'  # under load, a Ctrl-C sent before the prompt has echoed the line raced it
    send C-c        # drops the line being typed
    send '=7*6' Enter
    for _ in $(seq 50); do [ "$(screen | grep -c '^42')" -ge 3 ] && break; sleep 0.1; done
    [ "$(screen | grep -c '^42')" -ge 3 ] || { screen; false; }
    ! screen | grep -q 'abc=7' || { screen; false; }
    send C-d
    wait_for 'status=0'
    tmux -S "$sock" kill-server
}
