#!/bin/sh
# No process of a job outlives it (issue 11).
#
# A mapper command runs in a process group of its own, killed whole when
# the command exits, when its worker dies (killed for no progress, crashed,
# or failed by the command) and when the job is interrupted.  Each command
# here leaves a `sleep` behind it, `sh -c "sleep N; cat"` and
# `sh -c "cat | sleep N"` as the issue has them, where N is a number of
# this script's own followed by the attempt; /proc is walked for them: none
# may be left 1 s after its worker's death, nor 1 s after the job.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 15

cd "$T" || bail_out "cannot cd to $T"

# The marks of this run's sleeps: sleep $M$K.$A in case K, attempt A.
M=7$$

# sleep_cmd K: the shell text of case K's sleep.
sleep_cmd() {
	echo "sleep $M$1.\${mapreduce_task_attempt_id##*_}"
}

# marked K [A]: the processes of case K (of attempt A, or of any; of every
# case if K is empty), those whose command line holds its mark: the sleeps,
# and the shells that run them.
marked() {
	for _p in /proc/[0-9]*; do
		_c=$(tr '\0' ' ' 2>/dev/null <"$_p/cmdline") || continue
		case $_c in
		*"sleep $M$1${2:+.$2}"*)
			echo "${_p#/proc/}" ;;
		esac
	done
}

# none_left K [A]: no process of case K (of attempt A) is left; some_left
# K [A]: some is.
none_left() {
	[ -z "$(marked "$@")" ]
}

some_left() {
	! none_left "$@"
}

# check_gone DESC K [A]: ok if no process of case K (of attempt A) is
# left within 1 s; else list them.
check_gone() {
	_cg_desc=$1
	shift
	if wait_for 1 none_left "$@"; then
		ok "$_cg_desc"
		return 0
	fi
	not_ok "$_cg_desc"
	for _p in $(marked "$@"); do
		diag "left: pid $_p, process group" \
		    "$(sed 's/.*) [A-Za-z] [0-9]* \([0-9]*\).*/\1/' \
		    "/proc/$_p/stat" 2>/dev/null):" \
		    "$(tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null)"
	done
	return 1
}

# Whatever a failed check leaves is killed at exit.
# shellcheck disable=SC2016 # expanded then
at_exit 'for _p in $(marked ""); do kill -KILL "$_p" 2>/dev/null; done'

seq 1 3000 | awk '{ print $1 % 7 "," $1 }' >kv.csv

# mapper_prog FILE COMMAND [INPUT]: a program of one mapper, COMMAND, on
# INPUT (kv.csv).
mapper_prog() {
	cat >"$1" <<EOF
{"input": "${3:-kv.csv}", "operations": [
  {"operator": "mapper", "command": "$2"}]}
EOF
}

# --- Hung commands with children, their workers killed for no progress ---
for n in 1 2; do
	case $n in
	1)	cmd="$(sleep_cmd 1); cat" name="sleep N; cat" ;;
	*)	cmd="cat | $(sleep_cmd 2)" name="cat | sleep N" ;;
	esac
	mapper_prog hung$n.json "$cmd"
	start_bg hung$n run hung$n.json -p 1 --task-timeout 1 \
	    --heartbeat-timeout 1 --max-attempts 3 --job-dir jd$n
	wait_for 20 has_lines "$T/hung$n.err" '(the task timeout); killing it' 1
	desc="$name: nothing of attempt 1 left 1 s after its worker's kill"
	if check_gone "$desc" $n 1 && ! bg_running hung$n; then
		diag "the job had ended already"
	fi
	wait_bg hung$n 60
	check_status "$name: exit status" 1
	check_gone "$name: nothing left 1 s after the job" $n
done
run_prog status --json jd1
check "forkflow status reads the status pages" grep -q '"checkpoints"' "$T/out"

# --- A crashing command with children ---
mapper_prog crash.json \
    "ulimit -c 0; $(sleep_cmd 3) >/dev/null 2>&1 & kill -SEGV \$\$"
run_prog run crash.json -p 1 --max-attempts 2 --job-dir jdc
check_status "a command that crashes: exit status" 1
check_err "a command that crashes: the log says so" \
    'mapper killed by signal 11'
check_gone "a command that crashes: nothing left 1 s after the job" 3

# --- A worker that crashes while its command runs, then the job ends well ---
# The crash comes after more lines than a pipe holds have gone through
# cat, so that its shell has started the sleep by then.
seq 1 30000 | awk '{ print $1 % 7 "," $1 }' >big.csv
mapper_prog bg.json "$(sleep_cmd 4) >/dev/null 2>&1 & cat" big.csv
run_prog run bg.json -p 1 --inject-crash 0:0:20000:1 --job-dir jdb
check_status "a worker that crashes: exit status" 0
check "a worker that crashes: every record" \
    test "$(wc -l <"$T/out")" -eq 30000
check_gone "a worker that crashes: nothing left 1 s after the job" 4

# --- An interrupted job ---
mapper_prog int.json "$(sleep_cmd 5); cat"
start_bg int run int.json -p 1 --job-dir jdi
wait_for 20 some_left 5 1 || diag "the command never started"
kill -TERM "$bg_pid"
wait_bg int 30
check_status "an interrupted job: exit status" 1
check_gone "an interrupted job: nothing left 1 s after it" 5
