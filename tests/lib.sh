# shellcheck shell=sh
# lib.sh: helpers for forkflow's shell tests, which print TAP.
#
# A test sources this file, says how many tests it runs with `plan N` (or
# gives up with `skip_all REASON`), then reports each one with `ok DESC` or
# `not_ok DESC` (or `check DESC COMMAND...`, `check_file DESC WANT GOT`).
#
# Environment: FORKFLOW is the binary under test, SRCDIR the source tree,
# PYTHON3 a Python 3 interpreter (optional).  `make check` sets all three.
#
# Every test gets a fresh temporary folder $T, removed on exit, and TMPDIR
# points to $T/tmp, so that forkflow's default job directories land there
# and `check_no_jobdirs` can see whether any was left behind.
#
# run_prog ARGS... runs "$FORKFLOW" ARGS... with standard input from
# /dev/null (run_prog_stdin FILE ARGS... reads FILE instead), and leaves
# standard output in $T/out, standard error in $T/err and the exit status
# in $status (and in $T/status).
#
# wait_for SECONDS COMMAND... polls COMMAND until it succeeds or SECONDS
# have passed; never synchronise with a bare sleep.

# Find what the test needs.
if [ -z "${SRCDIR:-}" ]; then
	SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
fi
if [ -z "${FORKFLOW:-}" ]; then
	FORKFLOW=$SRCDIR/src/forkflow
fi
PYTHON3=${PYTHON3:-python3}
export SRCDIR FORKFLOW PYTHON3

_tap_n=0
_tap_failed=0
_tap_planned=

# plan N: announce N tests.
plan() {
	_tap_planned=$1
	echo "1..$1"
}

# skip_all REASON: skip the whole script.
skip_all() {
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}

# bail_out REASON: stop everything (the harness marks the script failed).
bail_out() {
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# diag TEXT...: a diagnostic line; diag_file FILE: a file's first lines.
diag() {
	printf '# %s\n' "$*"
}

diag_file() {
	if [ -s "$1" ]; then
		sed -e 's/^/#   /' -e 20q "$1"
	else
		printf '#   (%s is empty)\n' "$1"
	fi
}

ok() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$*"
}

not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$*"
}

# skip DESC REASON: a test that could not run.
skip() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$1" "$2"
}

# check DESC COMMAND...: ok if COMMAND succeeds.
check() {
	_check_desc=$1
	shift
	if "$@"; then
		ok "$_check_desc"
	else
		not_ok "$_check_desc"
		return 1
	fi
}

# check_file DESC WANT GOT: ok if the two files have the same bytes.
check_file() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diag "want $2, got $3:"
		diff -u "$2" "$3" 2>&1 | sed -e 's/^/#   /' -e 30q
		return 1
	fi
}

# check_status DESC WANT: ok if the last run_prog exited with WANT.
check_status() {
	if [ "$status" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit status $status, want $2; standard error:"
		diag_file "$T/err"
		return 1
	fi
}

# check_err DESC PATTERN: ok if the last run's standard error has a line
# matching the basic regular expression PATTERN.
check_err() {
	if grep -q -e "$2" "$T/err"; then
		ok "$1"
	else
		not_ok "$1"
		diag "no line matching '$2' in standard error:"
		diag_file "$T/err"
		return 1
	fi
}

# run_prog ARGS...: run forkflow, output in $T/out and $T/err.
run_prog() {
	run_prog_stdin /dev/null "$@"
}

run_prog_stdin() {
	_run_in=$1
	shift
	status=0
	"$FORKFLOW" "$@" <"$_run_in" >"$T/out" 2>"$T/err" || status=$?
	echo "$status" >"$T/status"
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 on timeout.
wait_for() {
	_wait_tries=$(($1 * 20))
	shift
	while [ "$_wait_tries" -gt 0 ]; do
		if "$@"; then
			return 0
		fi
		# Fractional sleep is not POSIX; fall back to whole seconds.
		sleep 0.05 2>/dev/null || sleep 1
		_wait_tries=$((_wait_tries - 1))
	done
	"$@"
}

# jobdirs: list the default job directories in $TMPDIR.
jobdirs() {
	for _jd in "$TMPDIR"/forkflow.*; do
		if [ -e "$_jd" ]; then
			echo "$_jd"
		fi
	done
}

# check_no_jobdirs DESC: ok if no job directory is left in $TMPDIR.  What
# is left is named, then removed, so that the next check of the script
# does not fail for it too.
check_no_jobdirs() {
	_left=$(jobdirs)
	if [ -z "$_left" ]; then
		ok "$1"
	else
		not_ok "$1"
		jobdirs | while read -r _jd; do
			diag "left behind: $_jd"
			rm -rf "$_jd"
		done
		return 1
	fi
}

# sort_kv FILE: sort k,v lines by key, then value, numerically.
sort_kv() {
	LC_ALL=C sort -t, -k1,1n -k2,2n "$@"
}

# at_exit COMMAND: run the shell command COMMAND at exit, before $T is
# removed (to unmount something mounted under $T, say); the last one given
# runs first.
_at_exit=
at_exit() {
	_at_exit="$1
$_at_exit"
}

# start_bg NAME ARGS...: start "$FORKFLOW" ARGS... in the background, with
# standard input from /dev/null, standard output in $T/NAME.out and
# standard error in $T/NAME.err.  Sets bg_pid to forkflow's process ID (the
# supervisor's), also in $T/NAME.pid; when forkflow ends, its exit status
# (128 + N after signal N) goes to $T/NAME.status.  One still running at
# exit is killed.
start_bg() {
	_bg_name=$1
	shift
	rm -f "$T/$_bg_name.pid" "$T/$_bg_name.status" "$T/$_bg_name.out" \
	    "$T/$_bg_name.err"
	(
		trap - EXIT HUP TERM
		"$FORKFLOW" "$@" </dev/null >"$T/$_bg_name.out" \
		    2>"$T/$_bg_name.err" &
		_bg_child=$!
		echo "$_bg_child" >"$T/$_bg_name.pid.tmp"
		mv "$T/$_bg_name.pid.tmp" "$T/$_bg_name.pid"
		_bg_st=0
		wait "$_bg_child" || _bg_st=$?
		echo "$_bg_st" >"$T/$_bg_name.status.tmp"
		mv "$T/$_bg_name.status.tmp" "$T/$_bg_name.status"
	) 2>/dev/null &
	_bg_names="$_bg_names $_bg_name"
	wait_for 10 test -s "$T/$_bg_name.pid" ||
	    bail_out "$_bg_name: forkflow did not start in the background"
	# shellcheck disable=SC2034 # for the test
	bg_pid=$(cat "$T/$_bg_name.pid")
}
_bg_names=

# wait_bg NAME SECONDS: wait until the background forkflow NAME has ended,
# at most SECONDS (then kill it with SIGKILL and return 1); its exit
# status in $status.
wait_bg() {
	_bg_ret=0
	if ! wait_for "$2" test -f "$T/$1.status"; then
		diag "$1: forkflow still running after $2 s; killing it"
		kill -KILL "$(cat "$T/$1.pid")" 2>/dev/null
		wait_for 10 test -f "$T/$1.status"
		_bg_ret=1
	fi
	status=$(cat "$T/$1.status" 2>/dev/null || echo none)
	return "$_bg_ret"
}

# bg_running NAME: the background forkflow NAME has not ended.
bg_running() {
	[ -f "$T/$1.pid" ] && [ ! -f "$T/$1.status" ]
}

# tmo SECONDS COMMAND...: COMMAND, killed after SECONDS (exit 124) where
# timeout(1) exists, so that a command that hangs fails the test instead.
if command -v timeout >/dev/null 2>&1; then
	tmo() {
		timeout -k 5 "$@"
	}
else
	tmo() {
		shift
		"$@"
	}
fi

# count_lines FILE PATTERN: how many lines of FILE match the basic regular
# expression PATTERN (0 when FILE is missing).
count_lines() {
	_cl=$(grep -c -e "$2" "$1" 2>/dev/null) || _cl=0
	echo "$_cl"
}

# has_lines FILE PATTERN N: at least N lines of FILE match PATTERN.
has_lines() {
	[ "$(count_lines "$1" "$2")" -ge "$3" ]
}

# no_kill FILE: no worker was killed for want of progress (FILE is a
# run's standard error).
no_kill() {
	! grep -q -e 'no progress\|task timeout' "$1"
}

# no_procs PATTERN: no process has PATTERN in its command line.
no_procs() {
	! pgrep -f -- "$1" >/dev/null 2>&1
}

# slow_prog LINES EVERY: write $T/slow.csv, LINES pairs, and $T/slow.json,
# a program whose mapper sleeps 0.1 s every EVERY lines (its reducer is
# cat), so that a job lasts long enough to be watched.
slow_prog() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "%d,%d\n", i % 97, i }' >"$T/slow.csv"
	cat >"$T/slow.json" <<EOF
{"input": "$T/slow.csv", "operations": [
  {"operator": "mapper", "command":
   "awk '{ print; fflush() } NR % $2 == 0 { system(\\"sleep 0.1\\") }'"},
  {"operator": "reducer", "command": "cat"}]}
EOF
}

# --- Helpers of the recovery tests (t-recovery.sh, t-recovery-long.sh) ---

# lap WHAT: say how long WHAT took since the last lap (or since lib.sh was
# sourced), in whole seconds.
_lap_mark=$(date +%s)
lap() {
	_lap_now=$(date +%s)
	diag "$1: $((_lap_now - _lap_mark)) s"
	_lap_mark=$_lap_now
}

# rand_seed SEED: start the generator of rand; rand N: a pseudo-random
# number from 0 to N-1, in $r.  The same seed gives the same numbers.
rand_seed() {
	_rand_s=$(($1 % 2147483648))
}

rand() {
	_rand_s=$(((_rand_s * 1103515245 + 12345) % 2147483648))
	r=$(((_rand_s / 65536) % $1))
}

# rec_pairs N SEED: N pairs "k,v", keys from 0 to 999999, values from
# -1000000 to 1000000, the same for the same SEED.
rec_pairs() {
	awk -v n="$1" -v s="$2" 'BEGIN { srand(s)
		for (i = 0; i < n; i++)
			printf "%d,%d\n", int(rand() * 1000000),
			    int(rand() * 2000001) - 1000000 }'
}

# rec_prog FILE F0 F1 F2: write the recovery tests' program to FILE:
#
#	filter "v % 13 != 0", map "v * 3 + k % 11", changeKey "k % 700001",
#	reduce SUM | map "v % 1000003", changeKey "v % 500009", reduce MAX
#
# with a filler map of F0, F1 and F2 divisions at the end of stages 0, 1
# and 2 (none where 0), "v % (k + 3000000000) % (k + 3000000001) ...",
# which gives v back on the pairs of rec_pairs but makes each stage last.
# The operators are 0 to 6 without filler; with F0 > 0 the first filler
# is operator 2 and the others move up by one.
rec_prog() {
	{
		echo '{"operations": ['
		echo '{"operator": "filter", "expr": "v % 13 != 0"},'
		echo '{"operator": "map", "expr": "v * 3 + k % 11"},'
		[ "$2" -eq 0 ] || echo "{\"operator\": \"map\", \"expr\":" \
		    "\"$(_rec_filler "$2")\"},"
		echo '{"operator": "changeKey", "expr": "k % 700001"},'
		echo '{"operator": "reduce", "function": "SUM"},'
		[ "$3" -eq 0 ] || echo "{\"operator\": \"map\", \"expr\":" \
		    "\"$(_rec_filler "$3")\"},"
		echo '{"operator": "map", "expr": "v % 1000003"},'
		echo '{"operator": "changeKey", "expr": "v % 500009"},'
		echo '{"operator": "reduce", "function": "MAX"}'
		[ "$4" -eq 0 ] || echo ",{\"operator\": \"map\", \"expr\":" \
		    "\"$(_rec_filler "$4")\"}"
		echo ']}'
	} >"$1"
}

_rec_filler() {
	awk -v n="$1" 'BEGIN { e = "v"
		for (i = 0; i < n; i++)
			e = e sprintf(" %% (k + 3%09d)", i)
		print e }'
}

# skip_mpi REASON: skip the script, or fail it where CI asks for the lane
# of several hosts (FORKFLOW_REQUIRE_MPI).
skip_mpi() {
	[ -z "${FORKFLOW_REQUIRE_MPI:-}" ] || bail_out "cannot test: $*"
	skip_all "$*"
}

# need_mpi: skip_mpi unless this forkflow was built with Open MPI.
need_mpi() {
	if "$FORKFLOW" run x.json --mpi 2>&1 | grep -q 'without Open MPI'; then
		skip_mpi "this forkflow was built without Open MPI"
	fi
}

# mpi_hosts PREFIX NET: three fake hosts of network namespaces
# (tests/mpi-hosts.sh) in $T/hosts, named PREFIX1 to 3 on the network NET
# (their own: another run may be up), taken down at exit; mpirun's
# settings for them exported, their names in h1, h2 and h3, the folder in
# H.  skip_mpi where they cannot be made, or forkflow has no Open MPI, or
# there is no mpirun or Python.
mpi_hosts() {
	need_mpi
	command -v mpirun >/dev/null 2>&1 || skip_mpi "no mpirun"
	command -v "$PYTHON3" >/dev/null 2>&1 ||
	    skip_mpi "no python3 ($PYTHON3)"
	H=$T/hosts
	FFH_PREFIX=$1
	FFH_NET=$2
	export FFH_PREFIX FFH_NET
	_st=0
	sh "$SRCDIR/tests/mpi-hosts.sh" up 3 "$H" 2>"$T/up.err" || _st=$?
	if [ "$_st" = 77 ]; then
		skip_mpi "no namespace hosts: $(cat "$T/up.err")"
	elif [ "$_st" != 0 ]; then
		cat "$T/up.err" >&2
		bail_out "tests/mpi-hosts.sh up failed ($_st)"
	fi
	at_exit "sh '$SRCDIR/tests/mpi-hosts.sh' down '$H' >/dev/null 2>&1"
	# shellcheck disable=SC1091 # written by mpi-hosts.sh
	. "$H/env"
	# shellcheck disable=SC2034 # for the test
	IFS=, read -r h1 h2 h3 <"$H/hosts"
}

# check_case WHAT C: ok if the last run of the differential test's case
# folder C (its exit status in st, its output and error in out and err)
# did what tests/refeval.py says: the reference's bytes, or exit 1 with
# its division by zero.  A failure says how to repeat the case ($seed, $i).
# shellcheck disable=SC2154 # the test's st, seed and i
check_case() {
	if [ "$(cat "$2/expect.status")" -ne 0 ]; then
		if [ "$st" = 1 ] && [ ! -s out ] &&
		    grep -q 'division by zero at key' err; then
			ok "$1: fails with a division by zero"
		else
			not_ok "$1: must fail with a division by zero"
			diag "exit $st"
			diag_file err
		fi
	elif [ "$st" = 0 ] && cmp -s "$2/expect.out" out; then
		ok "$1: the reference's bytes"
	else
		not_ok "$1: the reference's bytes (exit $st)"
		diag_file err
		diag "to repeat: $PYTHON3 tests/refeval.py gen $seed $i DIR"
	fi
}

# check_parts WHAT WANT GOT: ok if the last run (its exit status in st,
# its error in err) wrote in the folder GOT the part files of WANT, and
# _SUCCESS.
# shellcheck disable=SC2154 # the test's st
check_parts() {
	_bad=
	for _f in "$2"/part-*; do
		cmp -s "$_f" "$3/${_f#"$2"/}" || _bad="$_bad ${_f#"$2"/}"
	done
	if [ "$st" = 0 ] && [ -z "$_bad" ] && [ -f "$3/_SUCCESS" ] &&
	    [ "$(find "$2" | wc -l)" = "$(find "$3" | wc -l)" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit $st; parts that differ:${_bad:- none}"
		diag_file err
	fi
}

# many_job: many.csv and many.json in the current folder, a job with a
# large result (300,000 lines, 4 MB), and that result on one host in
# many.want.
many_job() {
	awk 'BEGIN { for (i = 0; i < 300000; i++) print i "," i * 3 }' \
	    >many.csv
	printf '{"operations": [{"operator": "map", "expr": "v + 1"}]}\n' \
	    >many.json
	"$FORKFLOW" run many.json -i many.csv -p 3 -q </dev/null >many.want \
	    2>/dev/null || bail_out "many.json fails on one host"
}

# frames_ok FILE: FILE, a job's standard error with --progress always on
# three hosts, holds two frames of the live display or more, each erased
# before the next is drawn, each with one line for each of p0, p1 and p2,
# and no record of a rank's left in it; else says why in $T/frames.err.
frames_ok() {
	"$PYTHON3" - "$1" >"$T/frames.err" 2>&1 <<'PY'
import re, sys
b = open(sys.argv[1], 'rb').read()
for rec in (b'forkflow-frame', b'forkflow-pool'):
    if rec in b:
        sys.exit('a record is left: ' + rec.decode())
frames = 0
for p in re.split(rb'\r\x1b\[\d+A\x1b\[J', b):
    bars = len(re.findall(rb'\x1b\[K(?:\x1b\[32m)?\[[#-]+\]', p))
    if bars > 1:
        sys.exit('two frames with no erase between them')
    if bars == 0:
        continue
    frames += 1
    for w in (b'p0 ', b'p1 ', b'p2 '):
        if len(re.findall(rb'\x1b\[K' + w, p)) != 1:
            sys.exit('a frame without one line for ' + w.decode())
if frames < 2:
    sys.exit('%d frames' % frames)
PY
}

# in_tmux COMMAND [ROWS]: run the shell command in a new terminal of 140
# columns and 30 rows (or ROWS), of a tmux server of its own; it writes
# its exit status to $T/done when it ends.  screen: what that terminal
# shows, into $T/screen (not what scrolled off it: tmux also scrolls there
# what a clear of the whole screen takes off it).
ntmux=0
in_tmux() {
	rm -f "$T/done"
	ntmux=$((ntmux + 1))
	TMUX_SOCK="$T/tmux$ntmux.sock"
	at_exit "tmux -S '$TMUX_SOCK' kill-server 2>/dev/null"
	tmux -S "$TMUX_SOCK" new-session -d -x 140 -y "${2:-30}" \
	    "$1; echo \$? >'$T/done'; sleep 600" ||
	    bail_out "tmux cannot start"
}

screen() {
	tmux -S "$TMUX_SOCK" capture-pane -p >"$T/screen"
}

# slow_job: slow.csv and slow.json in the current folder, a job of a few
# seconds: 3,000,000 pairs through a map of 300 remainders, two reduces.
slow_job() {
	awk 'BEGIN { for (i = 1; i <= 3000000; i++)
		print i % 100003 "," i * 7 % 10007 }' >slow.csv
	_fill=$(_rec_filler 300)
	cat >slow.json <<EOF
{"operations": [{"operator": "map", "expr": "v * 3"},
 {"operator": "map", "expr": "$_fill"},
 {"operator": "changeKey", "expr": "k % 97"},
 {"operator": "reduce", "function": "SUM"},
 {"operator": "map", "expr": "$_fill"},
 {"operator": "changeKey", "expr": "v % 13"},
 {"operator": "reduce", "function": "COUNT"}]}
EOF
}

# rec_ref FILE: the result of rec_prog's program on the pairs in FILE,
# computed by awk, sorted.  Sums stay far below 2^53, and awk's % truncates
# toward zero as C's does.
rec_ref() {
	awk -F, '{
		k = $1 + 0; v = $2 + 0
		if (v % 13 == 0) next
		v = v * 3 + k % 11
		s[k % 700001] += v
	}
	END {
		for (k in s) {
			v = s[k] % 1000003
			nk = v % 500009
			if (!(nk in m) || v > m[nk]) m[nk] = v
		}
		for (k in m) printf "%d,%d\n", k, m[k]
	}' "$1" | sort_kv -
}

# ckpt_pat P S: the pattern of worker P's log line for a checkpoint it
# made in stage S (with -vv).
ckpt_pat() {
	echo "^forkflow: worker $1: checkpoint [0-9]*: stage $2,"
}

# worker_pid LOG P: the process ID of the worker last forked for partition
# P, from the supervisor's log (with -vv).
worker_pid() {
	sed -n "s/^forkflow: worker $2 forked (pid \\([0-9]*\\)).*/\\1/p" "$1" |
	    tail -n 1
}

# pick LOG S: a random partition of 3 in $hit_p, and in $hit_n a number of
# its checkpoints in stage S: at least 1 and at most the number LOG (a
# fault-free -vv run) has less 4, so that the worker is still in the stage
# a while after its $hit_n-th checkpoint.  pick_n LOG P S: the same for
# partition P.
pick() {
	rand 3
	pick_n "$1" "$r" "$2"
}

pick_n() {
	hit_p=$2
	_pick_c=$(count_lines "$1" "$(ckpt_pat "$2" "$3")")
	_pick_m=$((_pick_c - 4))
	[ "$_pick_m" -ge 1 ] || _pick_m=1
	rand "$_pick_m"
	hit_n=$((r + 1))
}

# hit_worker NAME S [N]: in the background job NAME (started with -vv),
# kill -9 worker $hit_p once it has made N (default $hit_n) checkpoints in
# stage S, counting those of earlier attempts; the process killed in
# $hit_pid.  1 if that did not happen: the job ended first, or 60 s passed.
hit_worker() {
	hit_pid=
	_hit_pat=$(ckpt_pat "$hit_p" "$2")
	wait_for 60 _hit_ready "$1" "$_hit_pat" "${3:-$hit_n}"
	has_lines "$T/$1.err" "$_hit_pat" "${3:-$hit_n}" || return 1
	hit_pid=$(worker_pid "$T/$1.err" "$hit_p")
	[ -n "$hit_pid" ] && bg_running "$1" || return 1
	kill -KILL "$hit_pid"
}

_hit_ready() {
	has_lines "$T/$1.err" "$2" "$3" || ! bg_running "$1"
}

# committed JOURNAL: the number of stages JOURNAL has as committed.
committed() {
	count_lines "$1" '^stage [0-9]* committed #[0-9a-f]*$'
}

# pids_named LOG: every "worker P (pid X) ...; restarting from" line of
# LOG (-vv) names the process last forked for P, the one that died; the
# lines that do not are in $T/diag.
pids_named() {
	awk '
	/^forkflow: worker [0-9]+ forked \(pid [0-9]+\)/ {
		p = $3; x = $6; sub(/\),?$/, "", x); last[p] = x
	}
	/^forkflow: worker [0-9]+ \(pid [0-9]+\) .*; restarting from/ {
		p = $3; x = $5; sub(/\)$/, "", x)
		if (x != last[p]) {
			printf "%s\n  (pid %s was forked last for worker %s)\n", \
			    $0, last[p], p
			bad = 1
		}
	}
	END { exit bad }' "$1" >"$T/diag"
}

# kept_dir: the job directory the last run_prog said it kept, if any.
kept_dir() {
	sed -n 's/^forkflow: the job directory \(.*\) is kept$/\1/p' "$T/err"
}

# At exit: remove the temporary folder, and say whether the plan was kept.
_tap_exit() {
	_tap_status=$?
	trap - EXIT
	for _bg in $_bg_names; do
		if bg_running "$_bg"; then
			kill -KILL "$(cat "$T/$_bg.pid")" 2>/dev/null
		fi
	done
	eval "$_at_exit"
	cd / && rm -rf "$T"
	if [ -n "$_tap_planned" ] && [ "$_tap_n" -ne "$_tap_planned" ]; then
		echo "# planned $_tap_planned tests but ran $_tap_n"
		[ "$_tap_status" -ne 0 ] || _tap_status=1
	fi
	if [ "$_tap_failed" -gt 0 ]; then
		echo "# failed $_tap_failed of $_tap_n tests"
		[ "$_tap_status" -ne 0 ] || _tap_status=1
	fi
	exit "$_tap_status"
}

T=$(mktemp -d "${TMPDIR:-/tmp}/forkflow-test.XXXXXX") ||
	bail_out "cannot make a temporary folder"
trap _tap_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
TMPDIR=$T/tmp
export TMPDIR
mkdir "$TMPDIR"

if [ ! -x "$FORKFLOW" ]; then
	bail_out "FORKFLOW ($FORKFLOW) is not an executable"
fi
case $FORKFLOW in
/*)	;;
*)	FORKFLOW=$(pwd)/$FORKFLOW ;;
esac
case $SRCDIR in
/*)	;;
*)	SRCDIR=$(cd "$SRCDIR" && pwd) ;;
esac

# --- A memory cgroup, for the tests of memory limits ---

# memcg_make LIMIT: make a memory cgroup of LIMIT bytes below this one (v1 or
# v2), in $memcg; returns 1 (and says why in $memcg_why) when it cannot, as
# when not root.  It is removed at exit.
memcg_make() {
	memcg=
	memcg_why=
	if [ "$(id -u)" != 0 ]; then
		memcg_why="not root"
		return 1
	fi
	_mc_v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' \
	    /proc/self/cgroup)
	_mc_v2=$(awk -F: '$1 == "0" && $2 == "" { print $3; exit }' \
	    /proc/self/cgroup)
	if [ -n "$_mc_v1" ] && [ -d "/sys/fs/cgroup/memory$_mc_v1" ]; then
		memcg=/sys/fs/cgroup/memory$_mc_v1/forkflow-test-$$
		mkdir "$memcg" 2>/dev/null || { memcg_why="mkdir $memcg"; memcg=; return 1; }
		echo "$1" >"$memcg/memory.limit_in_bytes" &&
		    { [ ! -f "$memcg/memory.memsw.limit_in_bytes" ] ||
		    echo "$1" >"$memcg/memory.memsw.limit_in_bytes"; } ||
		    { rmdir "$memcg"; memcg_why="cannot set the limit"; memcg=; return 1; }
	elif [ -n "$_mc_v2" ]; then
		_mc_root=/sys/fs/cgroup
		[ -d /sys/fs/cgroup/unified ] && _mc_root=/sys/fs/cgroup/unified
		memcg=$_mc_root$_mc_v2/forkflow-test-$$
		mkdir "$memcg" 2>/dev/null &&
		    echo "$1" >"$memcg/memory.max" 2>/dev/null &&
		    echo 0 >"$memcg/memory.swap.max" 2>/dev/null ||
		    { rmdir "$memcg" 2>/dev/null; memcg_why="no v2 memory controller to use"; memcg=; return 1; }
	else
		memcg_why="no memory cgroup"
		return 1
	fi
	at_exit "rmdir '$memcg' 2>/dev/null"
	return 0
}

# in_memcg COMMAND...: run COMMAND in the cgroup memcg_make made.
in_memcg() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$memcg" "$@"
}
