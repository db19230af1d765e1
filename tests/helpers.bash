# Shared set-up for the bats suites: the binary under test ($ASYNCRUN, set by tests/run.sh,
# defaulting to the normal build) and bats-assert.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${ASYNCRUN:=$BATS_TEST_DIRNAME/../build/asyncrun}"

# Writes stdin to a script file in the test's temporary directory and prints its path.
script() {
    local path="$BATS_TEST_TMPDIR/${1:-script.lua}"
    cat > "$path"
    printf '%s\n' "$path"
}

# The environment must not change what a test sees.
clean_environment() {
    unset LUA_INIT LUA_INIT_5_4 ASYNCRUN_TRACE ASYNCRUN_TRACE_FILE ASYNCRUN_STATS ASYNCRUN_MEMLIMIT
}

# Fails unless $stderr (from `run --separate-stderr`) contains $1.
stderr_has() {
    [[ $stderr == *"$1"* ]] || fail "stderr lacks: $1
-- stderr --
$stderr"
}
