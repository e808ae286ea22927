# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for inotaskctl: verbs, options, and live values (task ids, rule and watch names) asked
# from the running daemon through inotaskctl itself (list-* --no-legend, which never starts the daemon).
# Needs no bash-completion helpers; "=" may be split off by COMP_WORDBREAKS or not.

# The first column of "inotaskctl [bus options] --no-pager --no-legend --full ARGS...".
__inotaskctl_column() {
        local first _
        "${__inotaskctl_cmd[@]}" --no-pager --no-legend --full "$@" 2>/dev/null |
                while read -r first _; do
                        [[ -n $first ]] && printf '%s\n' "$first"
                done
}

# The words of $1 (ids and names have no blanks) that start with $2.
__inotaskctl_compgen() {
        COMPREPLY+=($(compgen -W "$1" -- "$2"))
}

_inotaskctl() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        local verbs='status list-tasks list-watches list-rules show cancel trigger run reload monitor'
        local opts='--system --user --host= --all --state= --json= -j --full --no-legend --no-pager
                    --no-ask-password --property= --value --lines= --help --version -H -a -l -p -n -h'
        local i w opt= pfx= verb= n_args=0
        local -a __inotaskctl_cmd=("${COMP_WORDS[0]}")

        COMPREPLY=()

        # Which option wants a value here: "--opt=|", "--opt=va|" (split or not), or "-p |".
        if [[ $cur == = ]]; then
                opt=$prev cur=
        elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
                opt=${COMP_WORDS[COMP_CWORD - 2]}
        elif [[ $cur == --*=* ]]; then
                # "=" is not in COMP_WORDBREAKS: the reply replaces the whole word.
                opt=${cur%%=*} pfx=${cur%%=*}= cur=${cur#*=}
        elif [[ $prev == @(-H|--host|-p|--property|--state|-n|--lines) ]]; then
                opt=$prev
        fi

        # The words before: the bus options go to the live queries too; the verb and its arguments.
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                case $w in
                --user | --system)
                        __inotaskctl_cmd+=("$w") ;;
                -H | --host)
                        __inotaskctl_cmd+=(-H "${COMP_WORDS[i + 1]}")
                        ((i++)) ;;
                --host=*)
                        __inotaskctl_cmd+=("$w") ;;
                -p | --property | --state | -n | --lines)
                        ((i++)) ;;
                =)
                        ((i++)) ;;
                -*) ;;
                *)
                        # The value of a split "--opt = value" is not a verb.
                        [[ ${COMP_WORDS[i - 1]} == = ]] && continue
                        if [[ -z $verb ]]; then verb=$w; else ((n_args++)); fi ;;
                esac
        done
        # A split "--host = NAME" before the cursor.
        for ((i = 2; i < COMP_CWORD; i++)); do
                [[ ${COMP_WORDS[i - 1]} == = && ${COMP_WORDS[i - 2]} == --host ]] &&
                        __inotaskctl_cmd+=(-H "${COMP_WORDS[i]}")
        done

        if [[ -n $opt ]]; then
                case $opt in
                --json)
                        __inotaskctl_compgen 'short pretty off' "$cur" ;;
                --state)
                        # A comma-separated list: complete its last item.
                        local head=
                        if [[ $cur == *,* ]]; then head=${cur%,*}, cur=${cur##*,}; fi
                        local s
                        for s in $("${COMP_WORDS[0]}" --state=help 2>/dev/null); do
                                [[ $s == "$cur"* ]] && COMPREPLY+=("$head$s")
                        done ;;
                -p | --property)
                        # The manager's, asked; a task's, known (asking needs an id).
                        __inotaskctl_compgen "$({ "${__inotaskctl_cmd[@]}" --no-pager show 2>/dev/null |
                                sed -n 's/=.*//p'; printf '%s\n' Id Rule Watch Path PathBytes Event State \
                                Result CreatedUSec DueUSec StartedUSec FinishedUSec MainPID ExitStatus; } |
                                sort -u)" "$cur" ;;
                -H | --host)
                        COMPREPLY=($(compgen -A hostname -- "$cur")) ;;
                esac
                COMPREPLY=("${COMPREPLY[@]/#/$pfx}")
                return 0
        fi

        if [[ $cur == -* ]]; then
                __inotaskctl_compgen "$opts" "$cur"
                # "--opt=" wants its value next, not a space.
                [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
                return 0
        fi

        if [[ -z $verb ]]; then
                __inotaskctl_compgen "$verbs" "$cur"
                return 0
        fi

        case $verb in
        cancel | trigger)
                __inotaskctl_compgen "$(__inotaskctl_column list-tasks)" "$cur" ;;
        status | show)
                __inotaskctl_compgen "$(__inotaskctl_column list-tasks --all)" "$cur" ;;
        list-tasks | list-rules)
                __inotaskctl_compgen "$(__inotaskctl_column list-rules)" "$cur" ;;
        list-watches)
                __inotaskctl_compgen "$(__inotaskctl_column list-watches)" "$cur" ;;
        run)
                if ((n_args == 0)); then
                        __inotaskctl_compgen "$(__inotaskctl_column list-rules)" "$cur"
                elif ((n_args == 1)); then
                        local IFS=$'\n'
                        COMPREPLY=($(compgen -f -- "$cur"))
                        compopt -o filenames 2>/dev/null
                fi ;;
        esac
        return 0
}

complete -F _inotaskctl inotaskctl
