# bash completion for asyncrun(1)                            -*- shell-script -*-
#
# Source this file, or install it as /usr/share/bash-completion/completions/asyncrun.
# It needs nothing from the bash-completion package.
#
# Before the script: options (--trace= and --stats= complete their formats,
# --trace-file files), or the script itself (.lua files and directories).
# After the script: plain file names, the script's own arguments.

# The options of `asyncrun --help`; a trailing = marks a value given as --opt=VALUE.
_asyncrun_options='-e -l -i -E -W -v --version -h --help --check --trace --trace=
--trace-file= --stats --stats= --debug --slow= --timeout= --strict --memlimit=
--fake-time --seed= --explore --explore= -- -'

# Options whose value may also be the next word.
_asyncrun_takes_value() {
    case $1 in
    -e | -l | --trace-file | --slow | --timeout | --memlimit | --seed) return 0 ;;
    esac
    return 1
}

# Adds the lines of $1 (compgen's output) to COMPREPLY, each prefixed with $2.
_asyncrun_add() {
    local word
    while IFS= read -r word; do
        [[ -n $word ]] && COMPREPLY+=("$2$word")
    done <<<"$1"
}

# Completes the value $2 of option $1; $3 is what precedes the value in the word.
_asyncrun_value() {
    case $1 in
    --trace) _asyncrun_add "$(compgen -W 'text json chrome html' -- "$2")" "$3" ;;
    --stats) _asyncrun_add "$(compgen -W 'text json' -- "$2")" "$3" ;;
    --trace-file)
        compopt -o filenames 2>/dev/null
        _asyncrun_add "$(compgen -f -- "$2")" "$3"
        ;;
    esac
    # -e CODE, -l NAME, --slow=MS, --timeout=SECONDS, --memlimit=SIZE, --seed=N,
    # --explore=K: nothing to offer
}

_asyncrun() {
    local -a words=()
    local cword=0 k w
    COMPREPLY=()

    # Bash splits "--trace=js" into "--trace" "=" "js" (= is in COMP_WORDBREAKS): glue the
    # pieces back, and remember that only the part after the = is being replaced.
    for ((k = 0; k < ${#COMP_WORDS[@]}; k++)); do
        w=${COMP_WORDS[k]}
        if ((${#words[@]} > 1)) && [[ $w == = || ${COMP_WORDS[k - 1]} == = ]]; then
            words[${#words[@]} - 1]+=$w
        else
            words+=("$w")
        fi
        ((k == COMP_CWORD)) && cword=$((${#words[@]} - 1))
    done
    local cur=${words[cword]-} split=0
    if [[ ${COMP_WORDS[COMP_CWORD]-} == = ]]; then
        split=1
    elif ((COMP_CWORD > 0)) && [[ ${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then
        split=1
    fi

    # Where are we: after the script, at an option's value, or still among the options?
    local script=0 pending='' after_dashdash=0
    for ((k = 1; k < cword; k++)); do
        w=${words[k]}
        case $w in
        --)
            if ((k + 1 < cword)); then script=1; else after_dashdash=1; fi
            break
            ;;
        -)
            script=1
            break
            ;;
        -*)
            if _asyncrun_takes_value "$w"; then
                if ((k + 1 == cword)); then
                    pending=$w
                    break
                fi
                k=$((k + 1))
            fi
            ;;
        *)
            script=1
            break
            ;;
        esac
    done

    if ((script)); then
        compopt -o filenames 2>/dev/null
        _asyncrun_add "$(compgen -f -- "$cur")" ''
    elif [[ -n $pending ]]; then
        _asyncrun_value "$pending" "$cur" ''
    elif ((!after_dashdash)) && [[ $cur == --*=* ]]; then
        _asyncrun_value "${cur%%=*}" "${cur#*=}" "${cur%%=*}="
    elif ((!after_dashdash)) && [[ $cur == -* ]]; then
        _asyncrun_add "$(compgen -W "$_asyncrun_options" -- "$cur")" ''
        # a lone --opt= candidate: its value follows without a space
        if ((${#COMPREPLY[@]} == 1)) && [[ ${COMPREPLY[0]} == *= ]]; then
            compopt -o nospace 2>/dev/null
        fi
    else
        # the script: .lua files, and directories to look into
        compopt -o filenames 2>/dev/null
        _asyncrun_add "$(compgen -d -- "$cur")" ''
        while IFS= read -r w; do
            [[ -n $w && ! -d $w ]] && COMPREPLY+=("$w")
        done <<<"$(compgen -f -X '!*.lua' -- "$cur")"
    fi

    # readline replaces only what follows the last = of a split word
    if ((split)) && [[ $cur == *=* ]]; then
        local head=${cur%=*}=
        for k in "${!COMPREPLY[@]}"; do
            COMPREPLY[k]=${COMPREPLY[k]#"$head"}
        done
    fi
    return 0
}

complete -F _asyncrun asyncrun
