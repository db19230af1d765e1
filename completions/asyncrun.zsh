#compdef asyncrun
# zsh completion for asyncrun(1)
#
# Install it as _asyncrun in a directory of $fpath (before compinit runs), or source it
# after compinit.
#
# Before the script: options (--trace= and --stats= complete their formats, --trace-file
# files), or the script itself (.lua files and directories). After the script: plain file
# names, the script's own arguments. The options are those of `asyncrun --help`.

_asyncrun() {
    # -S: nothing is an option after --; -A '-*': none after the first non-option (the
    # script), as asyncrun itself parses them
    _arguments -S -A '-*' : \
        '*-e+[run CODE before the script (repeatable, in order)]:Lua code: ' \
        '*-l+[require NAME into global NAME (or G=NAME)]:module (NAME or G=NAME): ' \
        '-i[interactive prompt after the script]' \
        '-E[ignore LUA_INIT, LUA_PATH and LUA_CPATH]' \
        '-W[turn warnings on]' \
        '(- 1 *)'{-v,--version}'[print the version and exit]' \
        '(- 1 *)'{-h,--help}'[print the help and exit]' \
        '--check[only parse the script and the -e chunks]' \
        '--trace=-[print task events]::trace format:(text json chrome html)' \
        '--trace-file=[write the trace to PATH instead of stderr]:trace file:_files' \
        '--stats=-[print a summary at exit]::stats format:(text json)' \
        '--debug[warn about slow steps and unclosed resources]' \
        '--slow=[slow-step threshold for --debug]:milliseconds (default 100): ' \
        '--timeout=[cancel the run after SECONDS and exit 124]:seconds: ' \
        '--strict[report leftover tasks and resources (for test suites)]' \
        '--memlimit=[cap the Lua heap]:size (bytes, or with K, M or G): ' \
        '--fake-time[virtual clock: sleeps and timeouts run instantly]' \
        '--seed=[seeded schedule: ready tasks run in an order drawn from N]:seed (non-negative integer): ' \
        '--explore=-[run K times under successive seeds, report the first failure]::runs (default 100): ' \
        '1:Lua script (- for stdin):_files -g "*.lua(-.)"' \
        '*::script argument:_files'
}

# Autoloaded from $fpath, this file is the completion function's body; sourced, it
# registers the function instead.
if [[ ${funcstack[1]-} == _asyncrun ]]; then
    _asyncrun "$@"
else
    compdef _asyncrun asyncrun
fi
