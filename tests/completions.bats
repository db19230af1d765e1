#!/usr/bin/env bats
# The shell completions (completions/): bash, zsh and fish load, complete options, their
# values, trace files and scripts, and offer every option of --help. They test files, not
# the binary: make check runs them once, with the normal build.

load helpers

COMPLETION="$BATS_TEST_DIRNAME/../completions/asyncrun.bash"

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

# ---------------------------------------------------------------- zsh and fish completion

ZSH_COMPLETION="$BATS_TEST_DIRNAME/../completions/asyncrun.zsh"
FISH_COMPLETION="$BATS_TEST_DIRNAME/../completions/asyncrun.fish"

# Completes the command line $2 (a TAB is typed at its end) in an interactive zsh inside the
# directory $1, with the completion file $3 (default: the zsh completion, sourced) or, when
# $3 is a directory, with _asyncrun autoloaded from it; prints the matches, sorted. A zpty
# drives the shell; compadd is wrapped to write the matches it adds to a file.
zsh_complete_in() {
    local dir=$1 line=$2 comp=${3:-$ZSH_COMPLETION}
    local harness="$BATS_TEST_TMPDIR/zsh-harness.zsh" out="$BATS_TEST_TMPDIR/zsh-matches"
    rm -f "$out" "$out.tab" "$out.done"
    cat > "$harness" <<'HARNESS'
zmodload zsh/zpty || exit 1
local dir=$1 line=$2 comp=$3 out=$4 load
if [[ -d $comp ]]; then
    load="fpath=(${(q)comp} \$fpath); autoload -Uz compinit && compinit -u -D"
else
    load="autoload -Uz compinit && compinit -u -D && source ${(q)comp}"
fi
zpty z zsh -f -i || exit 1
zpty -w z "PS1= RPS1= LISTMAX=100000; bindkey -e; cd ${(q)dir} && $load"
zpty -w z "compadd() { if (( \${@[(I)-[OAD]]} )); then builtin compadd \"\$@\"; return; fi;
  local -a __m; builtin compadd -A __m \"\$@\"; (( \$#__m )) && print -rl -- \$__m >> ${(q)out};
  builtin compadd \"\$@\"; }"
# TAB completes, then says so: what follows must not be typed ahead of the completion
zpty -w z "_tab() { zle complete-word; : > ${(q)out}.tab }; zle -N _tab; bindkey '^I' _tab"
zpty -w -n z "$line"$'\t'
for i in {1..200}; do [[ -e $out.tab ]] && break; sleep 0.05; done
zpty -w z $'\C-u'": > ${(q)out}.done"
for i in {1..200}; do [[ -e $out.done ]] && break; sleep 0.05; done
zpty -d z
[[ -e $out.tab && -e $out.done ]] || { print -u2 "zsh did not answer"; exit 1 }
HARNESS
    zsh -f "$harness" "$dir" "$line" "$comp" "$out" || return 1
    [ ! -e "$out" ] || LC_ALL=C sort -u "$out"
}

# Completes the command line $2 with fish's `complete -C` inside the directory $1, with the
# fish completion sourced; prints the candidates without their descriptions, sorted.
fish_complete_in() {
    (cd "$1" && XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/xdg-config" XDG_DATA_HOME="$BATS_TEST_TMPDIR/xdg-data" \
        XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg-cache" \
        fish --no-config -c 'source $argv[1]; or exit 1; complete -C$argv[2]' "$FISH_COMPLETION" "$2") \
        | cut -f1 | LC_ALL=C sort
}

@test "the zsh completion loads in zsh -c without error and registers _asyncrun" {
    command -v zsh >/dev/null || skip "zsh is not installed (Debian package zsh)"
    run --separate-stderr zsh -f -c 'autoload -Uz compinit && compinit -u -D && source "$1" && print -r -- "$_comps[asyncrun]"' _ "$ZSH_COMPLETION"
    assert_success
    assert_output _asyncrun
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "the zsh completion installed as _asyncrun in \$fpath is found by compinit and autoloads" {
    command -v zsh >/dev/null || skip "zsh is not installed (Debian package zsh)"
    local d="$BATS_TEST_TMPDIR/site-functions"
    mkdir -p "$d"
    cp "$ZSH_COMPLETION" "$d/_asyncrun"
    run --separate-stderr zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit && compinit -u -D &&
        print -r -- "$_comps[asyncrun]" && autoload +X _asyncrun' _ "$d"
    assert_success
    assert_output _asyncrun
    [ -z "$stderr" ] || fail "stderr: $stderr"
    # and completes, autoloaded
    run zsh_complete_in "$(make_tree)" 'asyncrun --trace=' "$d"
    assert_success
    assert_output "chrome
html
json
text"
}

@test "zsh completion: options, formats, --trace-file files, the script, its arguments" {
    command -v zsh >/dev/null || skip "zsh is not installed (Debian package zsh)"
    zsh -fc 'zmodload zsh/zpty' 2>/dev/null || skip "zsh has no zsh/zpty module"
    local d
    d=$(make_tree)
    run zsh_complete_in "$d" 'asyncrun --tr'
    assert_success
    assert_output "--trace
--trace-file"
    run zsh_complete_in "$d" 'asyncrun --trace='
    assert_output "chrome
html
json
text"
    run zsh_complete_in "$d" 'asyncrun --stats='
    assert_output "json
text"
    run zsh_complete_in "$d" 'asyncrun --trace-file=o'
    assert_output out.json
    run zsh_complete_in "$d" 'asyncrun --trace-file '
    assert_line out.json
    assert_line notes.txt
    run zsh_complete_in "$d" 'asyncrun --trace -e x=1 '
    assert_output "hello.lua
sub"
    run zsh_complete_in "$d" 'asyncrun hello.lua '
    assert_output "hello.lua
notes.txt
out.json
sub"
    run zsh_complete_in "$d" 'asyncrun hello.lua --tr'
    assert_output ""
}

@test "the fish completion loads in fish -c without error and completes --tr" {
    command -v fish >/dev/null || skip "fish is not installed (Debian package fish)"
    run --separate-stderr fish_complete_in "$BATS_TEST_TMPDIR" 'asyncrun --tr'
    assert_success
    assert_output -- "--trace
--trace-file
--trace="
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "fish completion: formats, --trace-file files, the script, its arguments" {
    command -v fish >/dev/null || skip "fish is not installed (Debian package fish)"
    local d
    d=$(make_tree)
    run fish_complete_in "$d" 'asyncrun --trace='
    assert_success
    assert_output -- "--trace=chrome
--trace=html
--trace=json
--trace=text"
    run fish_complete_in "$d" 'asyncrun --stats='
    assert_output -- "--stats=json
--stats=text"
    run fish_complete_in "$d" 'asyncrun --trace-file=o'
    assert_output -- --trace-file=out.json
    run fish_complete_in "$d" 'asyncrun --trace-file '
    assert_line out.json
    assert_line notes.txt
    run fish_complete_in "$d" 'asyncrun --trace -e x=1 '
    assert_output "hello.lua
sub/"
    run fish_complete_in "$d" 'asyncrun -- '
    assert_output "hello.lua
sub/"
    run fish_complete_in "$d" 'asyncrun hello.lua '
    assert_output "hello.lua
notes.txt
out.json
sub/"
    run fish_complete_in "$d" 'asyncrun hello.lua --tr'
    assert_output ""
}

@test "the zsh and fish completions offer the options of --help" {
    local opt missing=
    for opt in $(help_options); do
        [ "$opt" = - ] || [ "$opt" = -- ] && continue
        # a spec starts the quoted word or is in a {-x,--xyz} pair
        grep -qE -- "['{,*]${opt}([][+=,}]|$)" "$ZSH_COMPLETION" || missing+=" zsh:$opt"
        case $opt in
        --*) grep -qE -- "-l ${opt#--}( |$)" "$FISH_COMPLETION" || missing+=" fish:$opt" ;;
        -*) grep -qE -- "-s ${opt#-}( |$)" "$FISH_COMPLETION" || missing+=" fish:$opt" ;;
        esac
    done
    [ -z "$missing" ] || fail "options of --help missing:$missing"
}
