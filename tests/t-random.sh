#!/bin/sh
# Randomised differential test: tests/refeval.py, a reference evaluator
# written independently of forkflow, makes random programs (named functions
# and expressions; several reduces, reduce after reduce, changeKey between,
# filters; divisions guarded against zero, and now and then one that is not)
# and random inputs (negative values, values near the int64 extremes,
# duplicate keys, several files and separators), and says what each must
# print.  forkflow runs each with 1, 2, 3 and 8 partitions and must print
# the same bytes, or fail with status 1 where the reference divides by zero.
#
# FORKFLOW_RANDOM_N cases (40), from FORKFLOW_RANDOM_SEED (random).  Jobs
# run with --max-attempts 1, so that a worker that crashes is not hidden by
# a restart from its checkpoint.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

command -v "$PYTHON3" >/dev/null 2>&1 || skip_all "no python3 ($PYTHON3)"
"$PYTHON3" -c 'import sys; sys.exit(sys.version_info < (3, 7))' \
    2>/dev/null || skip_all "$PYTHON3 is not Python 3.7 or later"

n=${FORKFLOW_RANDOM_N:-40}
seed=${FORKFLOW_RANDOM_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
refeval=$SRCDIR/tests/refeval.py
parts="1 2 3 8"

plan $((n * 4 + 2))
diag "seed $seed, $n cases (FORKFLOW_RANDOM_SEED=$seed" \
    "FORKFLOW_RANDOM_N=$n to repeat)"

if "$PYTHON3" "$refeval" selftest >"$T/selftest" 2>&1; then
	ok "reference evaluator self-test"
else
	not_ok "reference evaluator self-test"
	diag_file "$T/selftest"
fi

if ! "$PYTHON3" "$refeval" gen "$seed" "$n" "$T/cases" >"$T/gen" 2>&1; then
	diag_file "$T/gen"
	bail_out "refeval.py gen failed (seed $seed)"
fi

# Say how to look at a failed case again (the program once per case).
explained=0
explain() {
	diag "seed $seed case $1 ($(cat "$2/desc")); to repeat:" \
	    "$PYTHON3 tests/refeval.py gen $seed $1 DIR &&" \
	    "forkflow run DIR/$(printf %03d "$1")/prog.json -p $3"
	if [ "$explained" -ne "$1" ]; then
		explained=$1
		diag "the program:"
		sed 's/^/#   /' "$2/prog.json"
	fi
}

i=0
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	c=$T/cases/$(printf %03d "$i")
	want=$(cat "$c/expect.status")
	for p in $parts; do
		what="case $i -p $p"
		if [ "$want" -ne 0 ]; then
			# A failed job keeps its job directory: keep it apart.
			run_prog run "$c/prog.json" -p "$p" --max-attempts 1 \
			    --job-dir "$T/jd.fail"
			rm -rf "$T/jd.fail"
			if [ "$status" -eq 1 ] && [ ! -s "$T/out" ] &&
			    grep -q 'division by zero at key' "$T/err"; then
				ok "$what: fails with a division by zero"
			else
				not_ok "$what: must fail with a division by zero"
				diag "exit status $status; standard error:"
				diag_file "$T/err"
				explain "$i" "$c" "$p"
			fi
			continue
		fi
		run_prog run "$c/prog.json" -p "$p" --max-attempts 1
		if [ "$status" -ne 0 ]; then
			not_ok "$what: exit status $status"
			diag_file "$T/err"
			explain "$i" "$c" "$p"
			rm -rf "$TMPDIR"/forkflow.*
		elif ! check_file "$what" "$c/expect.out" "$T/out"; then
			explain "$i" "$c" "$p"
		fi
	done
done

check_no_jobdirs "no job directory left in TMPDIR"
