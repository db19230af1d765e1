# fish completion for asyncrun(1)
#
# Install it as asyncrun.fish in a directory of $fish_complete_path (such as
# /usr/share/fish/vendor_completions.d), or source it.
#
# Before the script: options (--trace= and --stats= complete their formats, --trace-file
# files), or the script itself (.lua files and directories). After the script: plain file
# names, the script's own arguments. The options are those of `asyncrun --help`.

# Where the word being completed stands: "options" (before the script), "script" (right
# after --, where only the script can come) or "args" (after the script).
function __asyncrun_position
    set -l words (commandline -opc)
    set -e words[1]
    set -l value 0
    set -l dashdash 0
    for w in $words
        if test $dashdash = 1
            echo args
            return
        end
        if test $value = 1
            set value 0
            continue
        end
        switch $w
            case -e -l --trace-file --slow --timeout --memlimit --seed
                set value 1 # its value is the next word
            case --
                set dashdash 1
            case -
                echo args # the script is stdin
                return
            case '-*'
                # an option
            case '*'
                echo args # the script
                return
        end
    end
    if test $dashdash = 1
        echo script
    else
        echo options
    end
end

function __asyncrun_before_script
    test (__asyncrun_position) = options
end

function __asyncrun_at_script
    test (__asyncrun_position) != args
end

function __asyncrun_after_script
    test (__asyncrun_position) = args
end

# The file names that complete the current word, as fish's own file completion finds
# them: only the .lua files and the directories.
function __asyncrun_scripts
    set -l token (commandline -ct)
    if string match -q -- '-*' $token; and __asyncrun_before_script
        return # an option, not a script
    end
    set -l files (complete -C"__fish_command_without_completions $token")
    string match -r -- '^[^\t]*(?:\.lua|/)(?:\t.*)?$' $files
end

complete -c asyncrun -e
# no file names but where they belong: the script, the script's arguments, --trace-file
complete -c asyncrun -n 'not __asyncrun_after_script' -f
complete -c asyncrun -n __asyncrun_after_script -F

set -l o __asyncrun_before_script
complete -c asyncrun -n $o -s e -x -d 'Run CODE before the script (repeatable)'
complete -c asyncrun -n $o -s l -x -d 'Require NAME into global NAME (or G=NAME)'
complete -c asyncrun -n $o -s i -d 'Interactive prompt after the script'
complete -c asyncrun -n $o -s E -d 'Ignore LUA_INIT, LUA_PATH and LUA_CPATH'
complete -c asyncrun -n $o -s W -d 'Turn warnings on'
complete -c asyncrun -n $o -s v -l version -d 'Print the version and exit'
complete -c asyncrun -n $o -s h -l help -d 'Print the help and exit'
complete -c asyncrun -n $o -l check -d 'Only parse the script and the -e chunks'
complete -c asyncrun -n $o -l trace -f -a 'text json chrome html' -d 'Print task events (--trace=FORMAT)'
complete -c asyncrun -n $o -l trace-file -r -d 'Write the trace to PATH instead of stderr'
complete -c asyncrun -n $o -l stats -f -a 'text json' -d 'Print a summary at exit (--stats=FORMAT)'
complete -c asyncrun -n $o -l debug -d 'Warn about slow steps and unclosed resources'
complete -c asyncrun -n $o -l slow -x -d 'Slow-step threshold for --debug, in ms (default 100)'
complete -c asyncrun -n $o -l timeout -x -d 'Cancel the run after SECONDS and exit 124'
complete -c asyncrun -n $o -l strict -d 'Report leftover tasks and resources (test suites)'
complete -c asyncrun -n $o -l memlimit -x -d 'Cap the Lua heap (K, M, G suffixes)'
complete -c asyncrun -n $o -l fake-time -d 'Virtual clock: sleeps and timeouts run instantly'
complete -c asyncrun -n $o -l seed -x -d 'Seeded schedule: ready tasks run in an order drawn from N'
complete -c asyncrun -n $o -l explore -f -d 'Run K times (--explore=K) under successive seeds'

# the script: .lua files and the directories to look into
complete -c asyncrun -n __asyncrun_at_script -a '(__asyncrun_scripts)'
