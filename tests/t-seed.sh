#!/bin/sh
# Test vector 6 of the peers' README (../shared/peers/README.md): the
# seed's own program, FilippoScaramuzza__fault-tolerant-dataflow/config.json
# (reduce ADD, reduce ADD, changeKey ADD 4, reduce ADD, map ADD 6), run as
# it is (value semantics, the spec's) and with "changeKeyOn": "key" (what
# the seed prints), with 1, 2 and 4 partitions, gives the two results the
# README lists.  The key variant is made here, pointing at the peers' input;
# nothing of theirs is copied into the project.
#
# FORKFLOW_PEERS is the peers folder (default: $SRCDIR/../shared/peers).

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

peers=${FORKFLOW_PEERS:-$SRCDIR/../shared/peers}
seed=$peers/FilippoScaramuzza__fault-tolerant-dataflow
if [ ! -f "$peers/README.md" ] || [ ! -f "$seed/config.json" ] ||
    [ ! -f "$seed/input.csv" ]; then
	skip_all "peers vectors not found"
fi
seed=$(cd "$seed" && pwd)

plan 9

# The result listed after "with key semantics" or "with spec semantics":
# the pairs between backquotes on the next line, one a line, sorted.
listed() {
	awk -v what="$1" '
		found && /`/ {
			sub(/^[^`]*`/, ""); sub(/`.*$/, "")
			n = split($0, kv, " ")
			for (i = 1; i <= n; i++) print kv[i]
			exit
		}
		index($0, what) { found = 1 }' "$peers/README.md" | sort_kv -
}
listed "with key semantics" >"$T/key.want"
listed "with spec semantics" >"$T/value.want"
check "the README lists 10 pairs for each semantics" \
    test "$(wc -l <"$T/key.want")" -eq 10 -a \
    "$(wc -l <"$T/value.want")" -eq 10

# The key variant, reading the seed's input where it is.
sed -e 's/"partitions"/"changeKeyOn": "key", "partitions"/' \
    -e "s|\"input.csv\"|\"$seed/input.csv\"|" "$seed/config.json" \
    >"$T/key.json"
keyed() {
	grep -q '"changeKeyOn": "key"' "$T/key.json" &&
	    grep -q -F "\"$seed/input.csv\"" "$T/key.json"
}
check "the key variant has changeKeyOn key and the seed's input" keyed

for p in 1 2 4; do
	run_prog run "$seed/config.json" -p "$p"
	if [ "$status" -ne 0 ]; then
		not_ok "value semantics -p $p: exit status $status"
		diag_file "$T/err"
	else
		check_file "value semantics (spec) -p $p" "$T/value.want" "$T/out"
	fi
	run_prog run "$T/key.json" -p "$p"
	if [ "$status" -ne 0 ]; then
		not_ok "key semantics -p $p: exit status $status"
		diag_file "$T/err"
	else
		check_file "key semantics (the seed's output) -p $p" \
		    "$T/key.want" "$T/out"
	fi
done

check_no_jobdirs "no job directory left in TMPDIR"
