#!/bin/sh
# The damage test of t-damage.sh, 500 trials, for make check-long.
FORKFLOW_DAMAGE_TRIALS=${FORKFLOW_DAMAGE_TRIALS:-500}
export FORKFLOW_DAMAGE_TRIALS
exec sh "${SRCDIR:-$(dirname "$0")/..}/tests/t-damage.sh"
