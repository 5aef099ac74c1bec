#!/bin/sh
# Damaged job files (issue 11): damage.py interrupts jobs at random points,
# damages one of their files (a byte flipped, or the file cut short), and
# resumes them, with a worker killed in half of the runs: never a wrong
# output, every job resumes to its result, and what the resumed run reads
# shows as a "damaged" event.  FORKFLOW_DAMAGE_TRIALS trials (30; make
# check-long runs 500), FORKFLOW_DAMAGE_SEED=N repeats a run.

: "${SRCDIR:=$(dirname "$0")/..}"
: "${FORKFLOW:=$SRCDIR/src/forkflow}"
T=$(mktemp -d "${TMPDIR:-/tmp}/forkflow-test.XXXXXX") || {
	echo "Bail out! mktemp"
	exit 1
}
trap 'rm -rf "$T"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
seed=${FORKFLOW_DAMAGE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $seed (FORKFLOW_DAMAGE_SEED=$seed to repeat)"
python3 "$SRCDIR/tests/damage.py" "$FORKFLOW" "$T" \
    "${FORKFLOW_DAMAGE_TRIALS:-30}" "$seed"
