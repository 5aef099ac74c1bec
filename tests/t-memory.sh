#!/bin/sh
# Memory: a worker the kernel kills for want of memory (its memory cgroup's
# limit) is said to be so, not blamed on the record it was reading, and
# --skip-bad-records skips nothing for it.  Needs root, to make a memory
# cgroup; skipped otherwise.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if ! memcg_make 64M; then
	skip_all "no memory cgroup to use: $memcg_why"
fi
plan 6

cd "$T" || bail_out "cannot cd to $T"
awk 'BEGIN { for (i = 0; i < 3000000; i++) print i ",1" }' >many.csv
cat >sum.json <<'EOF2'
{"operations": [{"operator": "reduce", "function": "SUM"}]}
EOF2

status=0
in_memcg "$FORKFLOW" run sum.json -i many.csv -p 1 --max-attempts 2 \
    --skip-bad-records --job-dir jd >"$T/out" 2>"$T/err" || status=$?
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
