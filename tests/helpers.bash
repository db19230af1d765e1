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
    unset ASYNCRUN_SEED ASYNCRUN_SEED_STRATEGY
}

# Fails unless $stderr (from `run --separate-stderr`) contains $1.
stderr_has() {
    [[ $stderr == *"$1"* ]] || fail "stderr lacks: $1
-- stderr --
$stderr"
}

# For tests that start asyncrun in the background as $pid, with stderr in $err (default
# $BATS_TEST_TMPDIR/err). Waits up to 5 s for the line $2 in file $1; fails if asyncrun ends first.
wait_for_line() {
    local i
    for ((i = 0; i < 250; i++)); do
        grep -qx -- "$2" "$1" 2>/dev/null && return 0
        if [ -n "${pid:-}" ] && ! kill -0 "$pid" 2>/dev/null; then
            fail "asyncrun ended before '$2'; stderr: $(cat "${err:-$BATS_TEST_TMPDIR/err}" 2>/dev/null)"
        fi
        sleep 0.02
    done
    fail "no '$2' in $1 after 5 s"
}

# Waits up to $1 seconds for $pid to end and sets $status; past it, kills it and fails.
wait_exit() {
    local i
    for ((i = 0; i < $1 * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" || true
        pid=
        fail "asyncrun still running after $1 s; stderr: $(cat "${err:-$BATS_TEST_TMPDIR/err}" 2>/dev/null)"
    fi
    status=0
    wait "$pid" || status=$?
    pid=
}

# Runs "$@" where the name server (the only one, in private user, mount and network
# namespaces) takes every query and never answers, getaddrinfo giving up after $DNS_TIMEOUT
# seconds (10); skips the test where such namespaces cannot be made.
with_silent_dns() {
    command -v unshare > /dev/null && command -v ip > /dev/null && command -v python3 > /dev/null ||
        skip "needs unshare, ip and python3"
    unshare -rmn true 2> /dev/null || skip "cannot make user, mount and network namespaces"
    printf 'nameserver 127.0.0.1\noptions timeout:%s attempts:1\n' "${DNS_TIMEOUT:-10}" \
        > "$BATS_TEST_TMPDIR/resolv.conf"
    unshare -rmn sh -c 'ip link set lo up && mount --bind "$0" /etc/resolv.conf &&
        exec python3 -c "
import socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((\"127.0.0.1\", 53))
sys.exit(subprocess.run(sys.argv[1:]).returncode)" "$@"' "$BATS_TEST_TMPDIR/resolv.conf" "$@"
}

# For the suites that start peers in the background: a clean environment, the system Python
# first (a version manager's shim costs a shell start per call), no peers yet.
peers_setup() {
    clean_environment
    if [ -x /usr/bin/python3 ]; then PATH=/usr/bin:$PATH; fi
    bg=()
}

# Kills what start_bg started (for teardown).
kill_bg() {
    local p
    for p in "${bg[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}

# Starts "$@" in the background (stdout to $BATS_TEST_TMPDIR/bg.out, stderr to bg.err);
# $bgpid is its pid, killed by kill_bg if still running.
start_bg() {
    "$@" > "$BATS_TEST_TMPDIR/bg.out" 2> "$BATS_TEST_TMPDIR/bg.err" 3>&- &
    bgpid=$!
    bg+=("$bgpid")
}

# Waits (up to 5 s) until file $1 (default: start_bg's bg.out) holds a first line; prints it.
# Fails if the background process ends first.
first_line() {
    local i f=${1:-$BATS_TEST_TMPDIR/bg.out}
    for ((i = 0; i < 250; i++)); do
        if [ -s "$f" ] && [ "$(wc -l < "$f")" -ge 1 ]; then
            head -1 "$f"
            return 0
        fi
        kill -0 "$bgpid" 2>/dev/null || { echo "the background process ended: $(cat "$BATS_TEST_TMPDIR/bg.err")" >&2; return 1; }
        sleep 0.02
    done
    echo "nothing in $f after 5 s" >&2
    return 1
}

# The options of --help, one per line, sorted: the -x and --xyz words of its option lines.
help_options() {
    "$ASYNCRUN" --help | grep -E '^  -' \
        | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z-]*' | sed 's/^[ ,]*//' | sort -u
}

