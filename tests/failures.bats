#!/usr/bin/env bats
# Readable failures: task dumps and error tracebacks show the user's frames, with the API
# call the user made on top (--debug shows asyncrun's own frames too); waiting on the
# current task raises; a name lookup in progress does not hold up the end of the run; and
# the layering rule that keeps the runtime from calling the bindings.
#
# Scripts are named by a relative path in each test's own directory, so that tracebacks read
# `name.lua:LINE`.

load helpers

setup() {
    ASYNCRUN=$(realpath "$ASYNCRUN")
    SRC=$(realpath "$BATS_TEST_DIRNAME/..")
    cd "$BATS_TEST_TMPDIR" || return 1
    clean_environment
}

# Writes stdin to NAME in the test's directory.
lua() { script "$1" > /dev/null; }

# --- layering ---------------------------------------------------------------------------

# Prints every file of the directory $1 that includes a header of the directory $2.
includes_of() {
    local h
    for h in "$2"/*.h; do
        grep -lE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]([^\">]*/)?$(basename "$h")[\">]" \
            "$1"/*.c "$1"/*.h
    done
    return 0
}

@test "no file of runtime/ includes a header of lua/: arrows run cli -> runtime, cli -> lua, lua -> runtime" {
    run includes_of "$SRC/runtime" "$SRC/lua"
    assert_success
    assert_output ""
}

@test "the layering check finds a runtime file that includes a lua/ header" {
    mkdir -p fake/runtime fake/lua
    printf '/* x */\n' > fake/lua/lbind.h
    printf '#include <stdio.h>\n#include "core.h"\n' > fake/runtime/ok.c
    printf '#include "core.h"\n  #  include "lbind.h"\n' > fake/runtime/bad.c
    printf '#include "../lua/lbind.h"\n' > fake/runtime/bad.h
    run includes_of fake/runtime fake/lua
    assert_output "fake/runtime/bad.c
fake/runtime/bad.h"
}
