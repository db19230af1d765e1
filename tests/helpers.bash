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
