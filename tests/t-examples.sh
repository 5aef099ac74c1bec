#!/bin/sh
# Every examples/NAME.json, run with 1, 2 and 5 partitions, prints exactly
# tests/data/NAME.out.  The expected files were computed independently of
# forkflow (with awk over the example's input; see tests/data/README), so a
# new example needs its own.  No job directory is left behind.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

set -- "$SRCDIR"/examples/*.json
[ -e "$1" ] || skip_all "no examples in $SRCDIR/examples"
plan $(($# * 3 + 1))

for prog in "$@"; do
	name=$(basename "$prog" .json)
	want=$SRCDIR/tests/data/$name.out
	for p in 1 2 5; do
		run_prog run "$prog" -p "$p"
		if [ ! -f "$want" ]; then
			not_ok "$name -p $p: no expected output $want"
		elif [ "$status" -ne 0 ]; then
			not_ok "$name -p $p: exit status $status"
			diag_file "$T/err"
		else
			check_file "$name -p $p" "$want" "$T/out"
		fi
	done
done

check_no_jobdirs "no job directory left in TMPDIR"
