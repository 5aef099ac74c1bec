#!/bin/sh
# Memory: a worker the kernel kills for want of memory (its memory cgroup's
# limit, under a --memory larger than it) is said to be so, not blamed on
# the record it was reading, and --skip-bad-records skips nothing for it.
# Left to its default, the budget is read from the cgroup's limit: the
# same job spills, finishes, and no worker is killed.  Needs root, to make
# a memory cgroup; skipped otherwise.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if ! memcg_make 64M; then
	skip_all "no memory cgroup to use: $memcg_why"
fi
plan 10

cd "$T" || bail_out "cannot cd to $T"
awk 'BEGIN { for (i = 0; i < 3000000; i++) print i ",1" }' >many.csv
cat >sum.json <<'EOF2'
{"operations": [{"operator": "reduce", "function": "SUM"}]}
EOF2

status=0
in_memcg "$FORKFLOW" run sum.json -i many.csv -p 1 --max-attempts 2 \
    --memory 1G --skip-bad-records --job-dir jd >"$T/out" \
    2>"$T/err" || status=$?
check_status "out of memory: exit status 1" 1
check_err "out of memory: the restart says why" \
    'killed by the kernel for want of memory (the OOM killer, in the job.s memory cgroup); restarting'
check_err "out of memory: the failure says so, and blames no record" \
    'record being processed: none (no record is at fault: the job needs more memory)'
check "out of memory: no record skipped" \
    test "$(count_lines "$T/err" 'skipping it')" = 0
check "out of memory: the events say so" \
    grep -q '"cause":"out of memory"' jd/events.jsonl
check "out of memory: no record_skipped event" \
    test "$(count_lines jd/events.jsonl '"record_skipped"')" = 0

# The default budget: half the cgroup's 64 MiB.  A build whose sanitizers
# reserve memory (they cannot even run under ulimit -v) cannot keep to
# it: then skipped.
awk -F, '{ print $1 "," $2 }' many.csv >want
printf '1,1\n' >one.csv
status=0
(ulimit -v 400000 && ASAN_OPTIONS=log_path=stderr \
    exec "$FORKFLOW" run sum.json -i one.csv -q) >/dev/null 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	for d in "exit 0" "the result" "no worker killed" "it spilled"; do
		skip "the cgroup's budget: $d" "a build that cannot run small"
	done
else
	status=0
	in_memcg "$FORKFLOW" run sum.json -i many.csv -p 1 --job-dir jd2 \
	    --keep >"$T/out" 2>"$T/err" || status=$?
	check_status "the cgroup's budget: exit 0" 0
	check_file "the cgroup's budget: the result" want "$T/out"
	check "the cgroup's budget: no worker killed" \
	    test "$(count_lines jd2/events.jsonl '"worker_died"')" = 0
	check "the cgroup's budget: it spilled" \
	    "$PYTHON3" -c 'import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(0 if sum(s["spilled_runs"] for s in c["stages"]) > 0 else 1)' \
	    jd2/counters.json
fi
