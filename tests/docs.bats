#!/usr/bin/env bats
# The documentation: the man page is clean roff and lists exactly the options of --help,
# and the bash completion loads and completes options, their values and scripts.

load helpers

MAN="$BATS_TEST_DIRNAME/../man/asyncrun.1"
COMPLETION="$BATS_TEST_DIRNAME/../completions/asyncrun.bash"

# The options of --help, one per line, sorted: the -x and --xyz words of its option lines.
help_options() {
    "$ASYNCRUN" --help | grep -E '^  -' \
        | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z-]*' | sed 's/^[ ,]*//' | sort -u
}

# The options of the man page's OPTIONS section, one per line, sorted: the -x and --xyz
# words of each .TP tag line, with roff's \- turned back into -.
man_options() {
    awk '/^\.SH / { in_opts = ($0 ~ /^\.SH "?OPTIONS"?$/) }
         in_opts && tag { print; tag = 0 }
         in_opts && /^\.TP/ { tag = 1 }' "$MAN" \
        | grep -oE '(\\-)+[A-Za-z]([A-Za-z]|\\-)*' | sed 's/\\-/-/g' | sort -u
}

# Runs the completion function that `complete -p asyncrun` names, in a clean bash inside
# the directory $1, on the words $3... with the cursor on word $2; prints COMPREPLY sorted.
complete_in() {
    local dir=$1
    shift
    (cd "$dir" && bash --norc --noprofile -c '
        source "$1" || exit 1
        fn=$(complete -p asyncrun | sed -nE "s/.* -F ([^ ]+) .*/\1/p")
        [ -n "$fn" ] || { echo "no completion function for asyncrun" >&2; exit 1; }
        COMP_CWORD=$2
        shift 2
        COMP_WORDS=("$@")
        COMP_LINE="${COMP_WORDS[*]}"
        COMP_POINT=${#COMP_LINE}
        "$fn" asyncrun "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$COMPLETION" "$@")
}

# A directory with a script, another file, a trace file and a subdirectory.
make_tree() {
    local d="$BATS_TEST_TMPDIR/tree"
    mkdir -p "$d/sub"
    touch "$d/hello.lua" "$d/notes.txt" "$d/out.json"
    printf '%s\n' "$d"
}

# ---------------------------------------------------------------- the man page

@test "the man page is clean roff: groff -ww -man -z prints nothing" {
    command -v groff >/dev/null || skip "groff is not installed (Debian package groff-base)"
    run groff -ww -man -z "$MAN"
    assert_success
    assert_output ""
}

@test "every option of --help is in the man page's OPTIONS section" {
    local help man missing
    help=$(help_options)
    man=$(man_options)
    [ -n "$help" ] || fail "found no option in --help"
    missing=$(comm -23 <(printf '%s\n' "$help") <(printf '%s\n' "$man"))
    [ -z "$missing" ] || fail "options of --help missing from the man page: $missing"
}

@test "every option of the man page's OPTIONS section is in --help" {
    local help man extra
    help=$(help_options)
    man=$(man_options)
    [ -n "$man" ] || fail "found no option in the man page's OPTIONS section"
    extra=$(comm -13 <(printf '%s\n' "$help") <(printf '%s\n' "$man"))
    [ -z "$extra" ] || fail "options of the man page missing from --help: $extra"
}

# ---------------------------------------------------------------- bash completion

@test "the bash completion loads in bash -c without error and registers asyncrun" {
    run --separate-stderr bash --norc --noprofile -c 'source "$1" && complete -p asyncrun' _ "$COMPLETION"
    assert_success
    assert_output --regexp '^complete .*-F [^ ]+ asyncrun$'
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "completion: --tr completes to --trace (its candidates all start with it)" {
    local d
    d=$(make_tree)
    run complete_in "$d" 1 asyncrun --tr
    assert_success
    assert_line -- --trace
    assert_line -- --trace-file=
    refute_line --regexp '^(-[^-]|--([^t]|t[^r]))'
    run complete_in "$d" 1 asyncrun --trace-f
    assert_output -- --trace-file=
}

@test "completion: --trace-file completes file names, with = or as the next word" {
    local d
    d=$(make_tree)
    # as bash splits --trace-file=o at the =
    run complete_in "$d" 3 asyncrun --trace-file = o
    assert_success
    assert_output out.json
    run complete_in "$d" 2 asyncrun --trace-file =
    assert_line out.json
    assert_line notes.txt
    run complete_in "$d" 2 asyncrun --trace-file ''
    assert_line out.json
    # as one word, when = is not a word break
    run complete_in "$d" 1 asyncrun --trace-file=o
    assert_output --trace-file=out.json
}

@test "completion: --trace= completes the four formats, --stats= two" {
    local d
    d=$(make_tree)
    run complete_in "$d" 2 asyncrun --trace =
    assert_success
    assert_output "chrome
html
json
text"
    run complete_in "$d" 3 asyncrun --trace = j
    assert_output json
    run complete_in "$d" 1 asyncrun --trace=
    assert_output -- "--trace=chrome
--trace=html
--trace=json
--trace=text"
    run complete_in "$d" 2 asyncrun --stats =
    assert_output "json
text"
}

@test "completion: the script is a .lua file or a directory; after it, any file" {
    local d
    d=$(make_tree)
    run complete_in "$d" 1 asyncrun ''
    assert_success
    assert_output "hello.lua
sub"
    run complete_in "$d" 1 asyncrun h
    assert_output hello.lua
    run complete_in "$d" 3 asyncrun --trace -e 'x=1'
    assert_output ""
    run complete_in "$d" 4 asyncrun --trace -e 'x=1' ''
    assert_output "hello.lua
sub"
    run complete_in "$d" 2 asyncrun hello.lua ''
    assert_output "hello.lua
notes.txt
out.json
sub"
    run complete_in "$d" 2 asyncrun hello.lua --tr
    assert_output ""
}
