#!/bin/sh
# No healthy worker is killed, and a stuck one still is.
#
# Every long loop counts as progress: a stage that sorts and folds millions
# of strings at its end passes a heartbeat timeout of one second.  A user's
# command has Hadoop's contract: a reducer silent for longer than the
# heartbeat timeout is left alone, and killed only after the task timeout
# (the program's "taskTimeout", streaming's -D mapreduce.task.timeout,
# --task-timeout), unless the worker itself is stopped.  Restarts never
# race the stage barrier (random kills at 48 partitions: every stage is
# committed once, no message is refused).  Hundreds of partitions on
# three lines, and a program of 100000 operators, run with the default
# settings.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 30

cd "$T" || bail_out "cannot cd to $T"

# --- A long sort and fold at a stage's end ---
mkdir text
awk 'BEGIN { srand(7)
	for (i = 0; i < 60000; i++) {
		w = ""; n = 3 + int(rand() * 6)
		for (j = 0; j < n; j++) w = w sprintf("%c", 97 + int(rand() * 26))
		v[i] = w }
	for (l = 0; l < 200000; l++) {
		s = v[int(rand() * 60000)]
		for (k = 1; k < 12; k++) s = s " " v[int(rand() * 60000)]
		print s } }' >text/c.txt
tr ' ' '\n' <text/c.txt | LC_ALL=C sort -u | sed 's/$/,c.txt/' >want.inv
cat >inv.json <<'EOF'
{"input": {"path": "text", "format": "text"}, "operations": [
  {"operator": "flatMap", "function": "WORDS_DOC"},
  {"operator": "reduce", "function": "COLLECT"}]}
EOF
run_prog run inv.json -p 1 --checkpoint-interval 1G --heartbeat-timeout 1 -q
check_status "2.4 M strings sorted in one go, heartbeat 1 s: exit status" 0
check "2.4 M strings sorted in one go: no worker killed" no_kill "$T/err"
check_file "2.4 M strings sorted in one go: the result" want.inv "$T/out"

# --- A quiet user command ---
seq 1 2000 | awk '{ print $1 % 7 "," $1 }' >kv.csv
awk -F, '{ s[$1] += $2 } END { for (k in s) print k "\t" s[k] }' kv.csv |
    LC_ALL=C sort >want.sum
# The reducer reads all its input, then thinks for 3 s before it writes.
cat >quiet.json <<'EOF'
{"input": {"path": "kv.csv", "format": "text"}, "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command": "tr , '\\t'"},
  {"operator": "reducer", "command":
   "f=$(mktemp); cat >$f; sleep 3; awk -F'\\t' '{ s[$1] += $2 } END { for (k in s) print k \"\\t\" s[k] }' $f; rm $f"}]}
EOF
run_prog run quiet.json -p 2 --heartbeat-timeout 1 -q
check_status "a reducer silent for 3 s, heartbeat 1 s: exit status" 0
check "a reducer silent for 3 s: not killed" no_kill "$T/err"
LC_ALL=C sort "$T/out" >got.sum
check_file "a reducer silent for 3 s: the result" want.sum got.sum

# The same reducer with a task timeout of 1 s is killed for it.
sed 's/^{/{"taskTimeout": 1000, /' quiet.json >quiet1.json
run_prog run quiet1.json -p 2 --heartbeat-timeout 1 --max-attempts 1 \
    --job-dir jd1
check_status "taskTimeout 1000: exit status" 1
check_err "taskTimeout 1000: killed for the task timeout" \
    'its command read, wrote and reported nothing for [0-9.]* s (the task timeout); killing it'
run_prog run quiet.json -p 2 --heartbeat-timeout 1 --max-attempts 1 \
    --task-timeout 1 --job-dir jd2
check_status "--task-timeout 1: exit status" 1
check_err "--task-timeout 1: killed for the task timeout" '(the task timeout)'
run_prog validate quiet1.json
check "taskTimeout: in the canonical program" \
    grep -q '"taskTimeout": 1000' "$T/out"
run_prog streaming -input kv.csv -output sout -mapper cat \
    -reducer 'sleep 3; cat' -D mapreduce.task.timeout=1000 \
    --heartbeat-timeout 1 --max-attempts 1 --partitions 1 --job-dir jd3
check_status "streaming -D mapreduce.task.timeout=1000: exit status" 1
check_err "streaming -D mapreduce.task.timeout=1000: killed for it" \
    '(the task timeout)'
run_prog streaming -input kv.csv -output sout2 -mapper cat \
    -reducer 'sleep 2; cat' -Dmapreduce.task.timeout=60000 \
    --heartbeat-timeout 1 --partitions 1 -q
check_status "streaming -Dmapreduce.task.timeout=60000 (no space): exit status" 0
check "streaming -Dmapreduce.task.timeout=60000: not killed" no_kill "$T/err"

# --- A worker stopped while its command waits is still found ---
# Its first mapper waits 8 s, time to find the worker and stop it on a
# loaded machine; the one of the worker forked again does not.
cat >stopme.json <<'EOF'
{"input": {"path": "kv.csv", "format": "text"}, "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command":
   "if [ ! -e first ]; then : >first; sleep 8; fi; tr , '\\t'"},
  {"operator": "reducer", "command":
   "awk -F'\\t' '{ s[$1] += $2 } END { for (k in s) print k \"\\t\" s[k] }'"}]}
EOF
start_bg stop run stopme.json -p 1 --heartbeat-timeout 1 --job-dir jd -q
# wpid: worker 0's pid, once it waits on its mapper.
wpid() {
	"$FORKFLOW" status --json jd 2>/dev/null | "$PYTHON3" -c '
import json, sys
w = json.load(sys.stdin)["workers"][0]
if w.get("state") == "running" and w.get("pid"):
    print(w["pid"])'
}
# (wait_for runs its command again and again: "$(wpid)" in its arguments
# would be expanded once, before it starts.)
have_wpid() {
	[ -n "$(wpid)" ]
}
wait_for 10 have_wpid
pid=$(wpid)
kill -STOP "$pid" 2>/dev/null
wait_bg stop 30
kill -CONT "$pid" 2>/dev/null
check_status "a stopped worker, its mapper waiting: exit status" 0
if grep -q "worker 0 (pid $pid) made no progress for" "$T/stop.err"; then
	ok "a stopped worker: killed for no progress, not for the task timeout"
else
	not_ok "a stopped worker: killed for no progress, not for the task timeout"
	diag "worker 0: pid $pid"
	diag_file "$T/stop.err"
fi
LC_ALL=C sort "$T/stop.out" >got.stop
check_file "a stopped worker: the result" want.sum got.stop

# --- Restarts and the stage barrier ---
seq 1 3000 | awk '{ print $1 "," $1 * 3 }' >three.csv
cat >three.json <<'EOF'
{"operations": [{"operator": "map", "expr": "v + 1"},
  {"operator": "reduce", "function": "SUM"},
  {"operator": "changeKey", "expr": "v % 7"},
  {"operator": "reduce", "function": "SUM"},
  {"operator": "changeKey", "expr": "v % 3"},
  {"operator": "reduce", "function": "MAX"}]}
EOF
run_prog run three.json -i three.csv -p 3 -q
cp "$T/out" want.three
bad=
for i in 1 2 3 4; do
	run_prog run three.json -i three.csv -p 48 --chaos 0.005 -v
	if [ "$status" != 0 ] || ! cmp -s want.three "$T/out"; then
		bad="$bad run $i: status $status or another result;"
	fi
	if grep -q 'malformed' "$T/err"; then
		bad="$bad run $i: a message refused;"
	fi
	for s in 0 1 2; do
		n=$(grep -c "^forkflow: stage $s committed\$" "$T/err")
		[ "$n" = 1 ] || bad="$bad run $i: stage $s committed $n times;"
	done
done
if [ -z "$bad" ]; then
	ok "random kills at 48 partitions, 4 runs: every stage committed once, the same result"
else
	not_ok "random kills at 48 partitions, 4 runs:$bad"
fi

# --chaos far more often than checkpoints: a worker that has written none
# since its fork is never killed, so the job ends (it used to be killed
# and forked again for ever).
cat >nock.json <<'EOF'
{"input": {"path": "kv.csv", "format": "text"}, "output": {"format": "tsv"},
 "operations": [{"operator": "mapper", "command": "sleep 1; tr , '\\t'"},
  {"operator": "reducer", "command":
   "awk -F'\\t' '{ s[$1] += $2 } END { for (k in s) print k \"\\t\" s[k] }'"}]}
EOF
start_bg nock run nock.json -p 2 --chaos 0.001 -q
wait_bg nock 60
check_status "--chaos 0.001, no checkpoint in a stage: the job ends" 0
LC_ALL=C sort "$T/nock.out" >got.nock
check_file "--chaos 0.001, no checkpoint in a stage: the result" want.sum got.nock

printf '1,2\n3,4\n5,6\n' >tiny.csv
"$FORKFLOW" run "$SRCDIR/examples/quickstart.json" -i tiny.csv -p 1 -q \
    >want.tiny 2>/dev/null
run_prog run "$SRCDIR/examples/quickstart.json" -i tiny.csv -p 200 -q
check_status "200 partitions on three lines: exit status" 0
check "200 partitions on three lines: no worker killed" no_kill "$T/err"
check_file "200 partitions on three lines: the result" want.tiny "$T/out"

# More partitions than four times the processors: said, unless -q.
many=$(($(getconf _NPROCESSORS_ONLN) * 4 + 1))
run_prog run "$SRCDIR/examples/quickstart.json" -i tiny.csv -p "$many"
check_err "-p $many: a warning that the workers take turns" \
    "^forkflow: -p $many is more than four times the [0-9]* processors: the workers will take turns\$"
run_prog run "$SRCDIR/examples/quickstart.json" -i tiny.csv -p "$many" -q
check "-p $many -q: no warning" test ! -s "$T/err"

# --- A program of 100000 operators ---
"$PYTHON3" -c '
import json
ops = [{"operator": "map", "expr": "v + 1"}] * 100000
print(json.dumps({"operations": ops}))' >many.json
printf '1,2\n3,4\n' >two.csv
printf '1,100002\n3,100004\n' >want.many
run_prog run many.json -i two.csv -p 2 -q
check_status "100000 operators: exit status" 0
check "100000 operators: no worker killed" no_kill "$T/err"
check_file "100000 operators: the result" want.many "$T/out"

check_no_jobdirs "no job directory left in TMPDIR"
