#!/usr/bin/env bats
# --seed and --explore (SPEC §1): seeded batch orders, reproducible with --fake-time, and the
# planted order bugs of tests/seed/ found, reported and replayed.

load helpers

SEED_DIR="$BATS_TEST_DIRNAME/seed"

setup() {
    clean_environment
    # --explore reads standard input to its end first: not the runner's, which may stay open
    exec </dev/null
}

# Six tasks that each record their name at every step: the order the schedule chose.
order_script() {
    script order.lua <<'EOF_LUA'
local log = {}
local function worker(i)
  for step = 1, 3 do
    log[#log + 1] = i
    async.sleep(step == 2 and 0.5 or 0) -- the same deadline for all six at step 2
  end
end
local tasks = {}
for i = 1, 6 do tasks[i] = async.spawn(worker, i) end
async.gather(tasks)
print(table.concat(log, " "), math.random(1000000))
EOF_LUA
}

# A trace without what measures real time: the ran= and run= durations (t= and wall= are
# virtual time).
trace_events() {
    sed -E 's/ (ran|run)=[0-9.]+//' "$1"
}

@test "--seed: a bad value is a usage error (status 2) naming the option" {
    local v
    for v in -1 abc 1.5 "" 1x 99999999999999999999; do
        run --separate-stderr "$ASYNCRUN" --seed="$v" -e 'print(1)'
        assert_failure 2
        stderr_has "--seed"
    done
    run --separate-stderr "$ASYNCRUN" -e 'print(1)' --seed
    assert_failure 2
    ASYNCRUN_SEED=x run --separate-stderr "$ASYNCRUN" -e 'print(1)'
    assert_failure 2
    stderr_has "ASYNCRUN_SEED: 'x'"
    ASYNCRUN_SEED_STRATEGY=fifo run --separate-stderr "$ASYNCRUN" -e 'print(1)'
    assert_failure 2
    stderr_has "ASYNCRUN_SEED_STRATEGY"
}

@test "without --seed a batch runs in FIFO order" {
    local s
    s=$(order_script)
    run "$ASYNCRUN" --fake-time "$s"
    assert_success
    # (the third round follows timers of one deadline, which fire in the heap's order)
    [[ $output == "1 2 3 4 5 6 1 2 3 4 5 6 "* ]] || fail "$output"
}

@test "--seed: batches run in real permutations, not only FIFO and reversed" {
    local s seed orders=() other=0
    s=$(order_script)
    for seed in $(seq 0 19); do
        run "$ASYNCRUN" --fake-time --seed=$seed "$s"
        assert_success
        orders+=("${output%%$'\t'*}")
        case ${output:0:11} in
            "1 2 3 4 5 6" | "6 5 4 3 2 1") ;;
            *) other=$((other + 1)) ;;
        esac
    done
    [ "$(printf '%s\n' "${orders[@]}" | sort -u | wc -l)" -ge 15 ] || fail "$(printf '%s\n' "${orders[@]}")"
    [ "$other" -ge 15 ]
    # every run still ran every task three times
    for o in "${orders[@]}"; do
        [ "$(tr ' ' '\n' <<<"$o" | sort | uniq -c | awk '$1 == 3' | wc -l)" -eq 6 ] || fail "$o"
    done
}

@test "--seed with --fake-time: the same seed gives the same output and trace events, run after run" {
    local s seed i strategy
    s=$(order_script)
    for strategy in mixed shuffle pct; do
        for seed in 1 7 123456789; do
            ASYNCRUN_SEED_STRATEGY=$strategy "$ASYNCRUN" --fake-time --seed=$seed --trace-file="$BATS_TEST_TMPDIR/t0" "$s" > "$BATS_TEST_TMPDIR/o0"
            for i in 1 2 3; do
                ASYNCRUN_SEED_STRATEGY=$strategy "$ASYNCRUN" --fake-time --seed=$seed --trace-file="$BATS_TEST_TMPDIR/t$i" "$s" > "$BATS_TEST_TMPDIR/o$i"
                cmp "$BATS_TEST_TMPDIR/o0" "$BATS_TEST_TMPDIR/o$i" || fail "output differs for seed $seed"
                diff <(trace_events "$BATS_TEST_TMPDIR/t0") <(trace_events "$BATS_TEST_TMPDIR/t$i") \
                    || fail "trace differs for seed $seed ($strategy)"
            done
            [ "$(grep -c 'event=resume' "$BATS_TEST_TMPDIR/t0")" -ge 24 ]
        done
    done
    # ASYNCRUN_SEED is the same as --seed
    ASYNCRUN_SEED=7 run "$ASYNCRUN" --fake-time "$s"
    assert_output "$("$ASYNCRUN" --fake-time --seed=7 "$s")"
}

@test "--seed seeds math.random: the same numbers for the same seed" {
    run "$ASYNCRUN" --seed=42 -e 'print(math.random(1 << 40), math.random())'
    assert_success
    local first=$output
    run "$ASYNCRUN" --seed=42 -e 'print(math.random(1 << 40), math.random())'
    assert_output "$first"
    run "$ASYNCRUN" -e 'math.randomseed(42) print(math.random(1 << 40), math.random())'
    assert_output "$first"
    run "$ASYNCRUN" --seed=43 -e 'print(math.random(1 << 40), math.random())'
    [ "$output" != "$first" ]
}

@test "--seed is in the trace's loop-start event and in --stats" {
    run --separate-stderr "$ASYNCRUN" --seed=17 --trace -e 'print(1)'
    assert_success
    [[ ${stderr_lines[0]} =~ ^trace:\ t=[0-9.]+\ event=loop-start\ seed=17$ ]] || fail "$stderr"
    run --separate-stderr "$ASYNCRUN" --seed=17 --trace=json -e 'print(1)'
    [[ ${stderr_lines[0]} =~ ^\{\"t\":[0-9.]+,\"event\":\"loop-start\",\"seed\":17\}$ ]] || fail "$stderr"
    run --separate-stderr "$ASYNCRUN" --seed=17 --stats -e 'print(1)'
    [[ $stderr =~ $'\n'"  seed"\ +17$'\n' ]] || fail "$stderr"
    run --separate-stderr "$ASYNCRUN" --seed=17 --stats=json -e 'print(1)'
    stderr_has '"seed":17}'
    run --separate-stderr "$ASYNCRUN" --stats=json -e 'print(1)'
    [[ $stderr != *seed* ]] || fail "$stderr"
}

@test "--explore: all runs pass: passing output hidden, one summary line, status 0" {
    run --separate-stderr "$ASYNCRUN" --explore=5 -e 'print("out") io.stderr:write("err\n")'
    assert_success
    assert_output ""
    [ "$stderr" = "asyncrun: explore: 5 runs passed (seeds 1..5)" ] || fail "$stderr"
    run --separate-stderr "$ASYNCRUN" --seed 10 --explore -e 'print("out")'
    assert_success
    [ "$stderr" = "asyncrun: explore: 100 runs passed (seeds 10..109)" ] || fail "$stderr"
}

@test "--explore: a bad count is a usage error; the prompt cannot be explored" {
    local v
    for v in 0 -3 abc 2x ""; do
        run --separate-stderr "$ASYNCRUN" --explore="$v" -e 'print(1)'
        assert_failure 2
        stderr_has "--explore"
    done
    run --separate-stderr "$ASYNCRUN" --explore -i -e 'print(1)'
    assert_failure 2
}

@test "--explore: each run gets the same options, arguments and standard input" {
    local s
    s=$(script args.lua <<'EOF_LUA'
assert(X == 42, "the -e chunk ran")
assert(arg[1] == "a b" and arg[2] == "it's" and select("#", ...) == 2, "the arguments")
assert(io.read("a") == "line 1\nline 2\n", "standard input")
EOF_LUA
)
    run --separate-stderr "$ASYNCRUN" --explore=4 -e 'X = 42' "$s" "a b" "it's" <<<$'line 1\nline 2'
    assert_success
    [ "$stderr" = "asyncrun: explore: 4 runs passed (seeds 1..4)" ] || fail "$stderr"
    # the script itself from standard input, and standard input closed
    run --separate-stderr "$ASYNCRUN" --explore=3 - x <<<'assert(arg[1] == "x") print(1)'
    assert_success
    [ "$stderr" = "asyncrun: explore: 3 runs passed (seeds 1..3)" ] || fail "$stderr"
    run --separate-stderr bash -c 'exec "$@" <&-' _ "$ASYNCRUN" --explore=2 -e 'assert(io.read("a") == "")'
    assert_success
}

@test "--explore: the first failing run's output, a line naming it, its status; the replay fails alike" {
    local s replay i
    s=$(script 'order bug.lua' <<'EOF_LUA'
local a_done = false
local a = async.spawn(function() a_done = true end)
local b = async.spawn(function() print("b sees", a_done) assert(a_done, "b ran before a") end)
io.stderr:write("arg: ", arg[1], "\n")
async.gather({a, b})
EOF_LUA
)
    run --separate-stderr "$ASYNCRUN" --fake-time --explore=300 -e 'X = 1' "$s" "two words"
    assert_failure 1
    assert_output "b sees	false"
    stderr_has "arg: two words"
    stderr_has "b ran before a"
    local last=${stderr_lines[${#stderr_lines[@]} - 1]}
    [[ $last =~ ^asyncrun:\ explore:\ seed\ ([0-9]+)\ failed\ with\ status\ 1\ after\ ([0-9]+)\ passing\ runs?\;\ replay:\ (.*)$ ]] \
        || fail "$last"
    local seed=${BASH_REMATCH[1]} passed=${BASH_REMATCH[2]}
    replay=${BASH_REMATCH[3]}
    [ "$passed" -eq $((seed - 1)) ]
    [ "$replay" = "$ASYNCRUN --seed=$seed --fake-time -e 'X = 1' '$s' 'two words'" ] || fail "$replay"
    for i in 1 2 3 4 5; do
        run --separate-stderr eval "$replay"
        assert_failure 1
        assert_output "b sees	false"
    done
}

# Explores a planted bug from several base seeds: found within 300 runs with the status
# expected, and its replay fails the same way 5 times of 5.
explore_planted() { # bug status options...
    local bug=$1 want=$2 base last replay i
    shift 2
    for base in 1 77 1000 123456; do
        run --separate-stderr "$ASYNCRUN" "$@" --seed=$base --explore=300 "$SEED_DIR/$bug.lua"
        [ "$status" -eq "$want" ] || fail "$bug from seed $base: status $status, want $want: $stderr"
        last=${stderr_lines[${#stderr_lines[@]} - 1]}
        [[ $last =~ replay:\ (.*)$ ]] || fail "$last"
        replay=${BASH_REMATCH[1]}
        for i in 1 2 3 4 5; do
            run --separate-stderr eval "$replay"
            [ "$status" -eq "$want" ] || fail "replay of $bug ($replay): status $status"
        done
    done
}

@test "planted: b ran before a (depth 1) is found and replayed" {
    run "$ASYNCRUN" --fake-time "$SEED_DIR/depth1.lua"
    assert_success
    explore_planted depth1 1 --fake-time
}

@test "planted: 2 before 1 and 3 before 4, which FIFO and a reversed batch never show" {
    run "$ASYNCRUN" --fake-time "$SEED_DIR/pairs.lua"
    assert_success
    explore_planted pairs 1 --fake-time
}

@test "planted: b first in every one of 6 rounds, and a lead that changes twice" {
    explore_planted rounds 1 --fake-time
    explore_planted zigzag 1 --fake-time
}

@test "planted: a lock-order inversion deadlocks under some orders: status 3 with the dump" {
    run "$ASYNCRUN" --fake-time "$SEED_DIR/deadlock.lua"
    assert_success
    run --separate-stderr "$ASYNCRUN" --fake-time --explore=300 "$SEED_DIR/deadlock.lua"
    assert_failure 3
    stderr_has "asyncrun: deadlock: no task can run"
    stderr_has "lock"
    explore_planted deadlock 3 --fake-time
}

@test "planted: a hang under some orders: --timeout=1 --explore exits 124" {
    run "$ASYNCRUN" --timeout=1 "$SEED_DIR/hang.lua"
    assert_success
    run --separate-stderr "$ASYNCRUN" --timeout=1 --explore=300 "$SEED_DIR/hang.lua"
    assert_failure 124
    stderr_has "timeout: the run exceeded 1 s"
    [[ ${stderr_lines[${#stderr_lines[@]} - 1]} == *"replay: $ASYNCRUN --seed="*" --timeout=1 $SEED_DIR/hang.lua" ]] \
        || fail "$stderr"
}

@test "--explore: SIGTERM to asyncrun ends the current run too: status 143, no report" {
    local err="$BATS_TEST_TMPDIR/err"
    "$ASYNCRUN" --explore=3 -e 'print("started") io.stdout:flush() while true do async.sleep(0.05) end' \
        > "$BATS_TEST_TMPDIR/out" 2> "$err" &
    pid=$!
    sleep 0.5
    kill -TERM "$pid"
    wait_exit 10
    [ "$status" -eq 143 ]
    [[ $(cat "$err") != *"explore:"* ]] || fail "$(cat "$err")"
    ! pgrep -f -- "--seed=1 -e print" >/dev/null || fail "a run is still there"
}

@test "--explore: the replay line carries the strategy and replays from a clean shell, under each strategy" {
    local strategy base last replay i
    for strategy in shuffle pct mixed; do
        for base in 1 50; do
            ASYNCRUN_SEED_STRATEGY=$strategy ASYNCRUN_MEMLIMIT=64M \
                run --separate-stderr "$ASYNCRUN" --fake-time --seed=$base --explore=300 "$SEED_DIR/pairs.lua" "x y"
            assert_failure 1
            last=${stderr_lines[${#stderr_lines[@]} - 1]}
            [[ $last =~ \ replay:\ (ASYNCRUN_SEED_STRATEGY=$strategy\ ASYNCRUN_MEMLIMIT=64M\ .*\ --fake-time\ --seed=[0-9]+\ .*\ \'x\ y\')$ ]] \
                || fail "$strategy: $last"
            replay=${BASH_REMATCH[1]}
            # from a shell whose environment names another strategy, or none
            for i in 1 2 3; do
                ASYNCRUN_SEED_STRATEGY=mixed run --separate-stderr bash -c "$replay"
                [ "$status" -eq 1 ] || fail "$strategy: $replay passed"
                run env -u ASYNCRUN_SEED_STRATEGY -u ASYNCRUN_MEMLIMIT bash -c "$replay"
                [ "$status" -eq 1 ] || fail "$strategy: $replay passed from a clean environment"
            done
        done
    done
}

@test "--explore: the replay puts the run's seed where the counting --seed was" {
    run --separate-stderr "$ASYNCRUN" --seed 3 --fake-time --seed 9 --explore=300 "$SEED_DIR/depth1.lua"
    assert_failure 1
    [[ ${stderr_lines[${#stderr_lines[@]} - 1]} =~ \ replay:\ (.+)\ --seed\ 3\ --fake-time\ --seed=([0-9]+)\ (.+)$ ]] \
        || fail "$stderr"
    [ "${BASH_REMATCH[1]}" = "$ASYNCRUN" ]
    [ "${BASH_REMATCH[2]}" -ge 9 ]
    [ "${BASH_REMATCH[3]}" = "$SEED_DIR/depth1.lua" ]
}

@test "--seed keeps sleep(0)'s promise: every task ready before it runs first" {
    local s seed
    s=$(script yield.lua <<'EOF_LUA'
local ran, log = 0, {}
for i = 1, 10 do async.spawn(function() ran = ran + 1 end) end
async.sleep(0)
assert(ran == 10, "only " .. ran .. " of the 10 ready tasks ran during sleep(0)")
local function rr(name) for _ = 1, 3 do log[#log + 1] = name async.sleep(0) end end
async.gather({async.spawn(rr, "A"), async.spawn(rr, "B"), async.spawn(rr, "C")})
-- round robin: the first round's order, three times
local first = table.concat(log, "", 1, 3)
assert(table.concat(log) == first:rep(3), table.concat(log, " "))
print(first)
EOF_LUA
)
    local firsts=()
    for seed in $(seq 1 20); do
        run "$ASYNCRUN" --fake-time --seed=$seed "$s"
        assert_success
        firsts+=("$output")
    done
    # while the first round itself is drawn
    [ "$(printf '%s\n' "${firsts[@]}" | sort -u | wc -l)" -ge 4 ]
}

@test "--explore: the replay line drops every --explore, names LUA_INIT, and escapes control bytes" {
    local chunk esc replay
    chunk="assert(not FAIL) -- $(printf '\033[31m')"
    LUA_INIT='FAIL=true' run --separate-stderr "$ASYNCRUN" --explore=2 --explore=3 -e "$chunk"
    assert_failure 1
    # one run failed and one replay line: the runs do not explore again
    [ "$(grep -c 'replay:' <<<"$stderr")" -eq 1 ] || fail "$stderr"
    esc=$(printf '\033')
    [[ $stderr != *"$esc"* ]] || fail "a raw control byte in: $stderr"
    [[ ${stderr_lines[${#stderr_lines[@]} - 1]} =~ \ replay:\ (LUA_INIT=FAIL=true\ .*\ --seed=1\ -e\ .*)$ ]] ||
        fail "$stderr"
    replay=${BASH_REMATCH[1]}
    [[ $replay != *--explore* ]] || fail "$replay"
    run env -u LUA_INIT bash -c "$replay"
    assert_failure 1
    [[ $output == *"assertion failed!"* ]] || fail "$output"
}
