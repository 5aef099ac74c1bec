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

# check_no_jobdirs DESC: ok if no job directory is left in $TMPDIR.
check_no_jobdirs() {
	_left=$(jobdirs)
	if [ -z "$_left" ]; then
		ok "$1"
	else
		not_ok "$1"
		jobdirs | while read -r _jd; do
			diag "left behind: $_jd"
		done
		return 1
	fi
}

# sort_kv FILE: sort k,v lines by key, then value, numerically.
sort_kv() {
	LC_ALL=C sort -t, -k1,1n -k2,2n "$@"
}

# At exit: remove the temporary folder, and say whether the plan was kept.
_tap_exit() {
	_tap_status=$?
	trap - EXIT
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
