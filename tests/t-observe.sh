#!/bin/sh
# Watching a job (issue 6): the event log, the counters, `forkflow status`,
# `forkflow report`, --trace, --log-file and the status blocks.  The live
# display, which needs a terminal, is t-progress.sh's.
#
# The program (map v+1, filter EVEN, reduce SUM, map v*2) runs on 300,000
# generated pairs; tests/observe.py computes what its counters must say
# from the input, on its own, and checks each file's fields and form:
#
# - events.jsonl: a JSON object a line, job_start first and job_end last,
#   partition, stage, operator, pid and attempt on every worker's event,
#   every stage committed, every partition's stages done; with a worker
#   killed (--inject-crash), worker_died with its signal, a restart and the
#   partition forked again;
# - counters.json: records in and out of each operator, the same with a
#   worker killed as without; the block on standard error, not with -q;
# - status --json: of a finished job, of a running one (a worker running,
#   seconds since its progress), of one whose supervisor was killed
#   (interrupted), then resumed and done;
# - report: one HTML file that loads nothing (no script, link, src, href,
#   url()), with a lane per partition and the crash marked; --trace: the
#   partitions as threads with their stages as spans.

. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if ! "$PYTHON3" -c 'import json, html.parser' 2>/dev/null; then
	skip_all "no $PYTHON3"
fi
plan 62

OBS="$PYTHON3 $SRCDIR/tests/observe.py"

awk 'BEGIN { srand(6); for (i = 0; i < 300000; i++)
	printf "%d,%d\n", int(rand() * 1000), int(rand() * 2000001) - 1000000 }' \
    >"$T/in.csv"
cat >"$T/obs.json" <<EOF
{"input": "$T/in.csv", "operations": [
  {"operator": "map", "function": "ADD", "arg": 1},
  {"operator": "filter", "function": "EVEN"},
  {"operator": "reduce", "function": "SUM"},
  {"operator": "map", "function": "MUL", "arg": 2}]}
EOF

# check_py DESC ARGS...: ok if observe.py ARGS... finds nothing wrong.
check_py() {
	_d=$1
	shift
	if $OBS "$@" >"$T/py.out" 2>&1; then
		ok "$_d"
		grep '^#' "$T/py.out" || true
	else
		not_ok "$_d"
		diag_file "$T/py.out"
	fi
}

# --- A job that runs through ---
run_prog run "$T/obs.json" -p 3 --job-dir "$T/jd1" --checkpoint-interval 256k
check_status "a job: exit status 0" 0
check_py "a job: events.jsonl" events "$T/jd1/events.jsonl" 3 2
check_py "a job: counters.json, operator by operator" \
    counters "$T/jd1/counters.json" "$T/in.csv"
check_err "a job: the counters block on standard error" '^forkflow: counters:$'
check_err "a job: the block has the operators" \
    '^  2  *[0-9][0-9]*  *[0-9][0-9]*  reduce SUM$'
check "a job: standard output holds the result alone" \
    test "$(grep -cv '^-*[0-9]*,-*[0-9]*$' "$T/out")" = 0
"$FORKFLOW" status --json "$T/jd1" >"$T/st1.json" 2>"$T/st1.err"
check_py "status --json of a finished job" status "$T/st1.json" done 3 2
"$FORKFLOW" status "$T/jd1" >"$T/st1.txt" 2>&1
check "status of a finished job, as text" \
    grep -q '^job [0-9a-f]*: done, [0-9.]* s, 2 stages$' "$T/st1.txt"
check "status: a line per worker" \
    test "$(grep -c '^  worker [0-2]: done, attempt 1$' "$T/st1.txt")" = 3
check "status: the counters" grep -q '^forkflow: counters:$' "$T/st1.txt"
run_prog report "$T/jd1" -o "$T/r1.html" --trace "$T/t1.json"
check_status "report: exit status 0" 0
check_py "report: self-contained, a lane per partition" \
    report "$T/r1.html" 3
check_py "report --trace: Chrome trace events" trace "$T/t1.json" 3
check "report: the program" grep -q '&quot;reduce&quot;' "$T/r1.html"

run_prog run "$T/obs.json" -p 3 -q
check "-q: no counters block" test ! -s "$T/err"

# --- A worker killed on the way ---
run_prog run "$T/obs.json" -p 3 --job-dir "$T/jd2" \
    --checkpoint-interval 256k --inject-crash 1:1:60000 --trace "$T/t2.json" \
    --log-file "$T/log2"
check_status "a worker killed: exit status 0" 0
check "--log-file: a worker's own lines, with times" \
    grep -q '^20[0-9-]*T[0-9:]*\.[0-9]*Z forkflow: worker 1: resuming stage 0 from checkpoint [0-9]' \
    "$T/log2"
check_py "a worker killed: events.jsonl" events "$T/jd2/events.jsonl" 3 2 \
    killed
check_py "a worker killed: the same counters" \
    counters "$T/jd2/counters.json" "$T/in.csv"
check "a worker killed: the died event names the signal" \
    grep -q '"event":"worker_died","partition":1,.*"signal":9' \
    "$T/jd2/events.jsonl"
check "a worker killed: the block counts the restart" \
    grep -q '^  checkpoints [0-9]*, restarts 1, ' "$T/err"
"$FORKFLOW" status --json "$T/jd2" >"$T/st2.json" 2>"$T/st2.err"
check_py "a worker killed: status --json" status "$T/st2.json" done 3 2
check "a worker killed: status counts the restart" \
    grep -q '"restarts": 1,' "$T/st2.json"
run_prog report "$T/jd2" -o "$T/r2.html"
check_py "a worker killed: the report marks the crash" report "$T/r2.html" 3 1
check_py "run --trace: Chrome trace events" trace "$T/t2.json" 3

# A job that fails: a worker killed on every attempt.
run_prog run "$T/obs.json" -p 3 --job-dir "$T/jdf" --max-attempts 2 \
    --inject-crash 2:0:100:99
check_status "a job that fails: exit status 1" 1
"$FORKFLOW" status --json "$T/jdf" >"$T/stf.json" 2>&1
check_py "status --json of a failed job" status "$T/stf.json" failed 3 2
check "a failed job: its worker failed, the exit status" \
    grep -q '"exit_status": 1,' "$T/stf.json"
"$FORKFLOW" status "$T/jdf" >"$T/stf.txt" 2>&1
check "status of a failed job, as text" \
    grep -q '^  worker 2: failed, attempt 2$' "$T/stf.txt"
check "status of a failed job: why it failed" \
    grep -q '^  why: partition 2 failed in stage 0, operator 0 .*gave up after 2 failures in a row' \
    "$T/stf.txt"
check "status --json of a failed job: why it failed" \
    grep -q '"reason": "partition 2 failed in stage 0' "$T/stf.json"
check "the job_end event of a failed job: why it failed" \
    grep -q '"event":"job_end".*"reason":"partition 2 failed in stage 0' \
    "$T/jdf/events.jsonl"
run_prog report "$T/jdf" -o -
check "report -o - of a failed job: on standard output, with why" \
    grep -q '<p class="why">Why: partition 2 failed in stage 0' "$T/out"
"$FORKFLOW" report "$T/jdf" -o "$T/rf.html" 2>/dev/null
check_file "report -o -: the same page as into a file" "$T/rf.html" "$T/out"

# An event log whose last line was cut short (a writer killed in it).
printf '{"t":1,"event":"chec' >>"$T/jd2/events.jsonl"
run_prog report "$T/jd2" -o "$T/r3.html"
check_status "report: a cut last line is left out" 0

check "the counters of old checkpoints are removed" \
    test "$(ls "$T/jd1/counters" | grep -c '\.g')" = 0

# --- Job directories that were tampered with ---
mkdir -p "$T/bad"
cat >"$T/bad/events.jsonl" <<EOF
{"t":1000,"event":"job_start","job_id":"<b>x</b>","partitions":1,"stages":1,"program":"<script>alert(1)</script>","time":"<i>"}
{"t":1000.1,"event":"stage_start","partition":0,"stage":0,"operator":0,"pid":9,"attempt":1}
{"t":1000.5,"event":"worker_died","partition":0,"stage":0,"operator":0,"pid":9,"attempt":1,"signal":9,"how":"<img src=x>"}
not json
{"t":5,"event":"job_start","partitions":1,"stages":1}
{"t":5.1,"event":"stage_start","partition":0,"stage":0,"operator":0,"pid":10,"attempt":2}
{"t":1e308,"event":"checkpoint","partition":2000000000,"stage":0}
{"t":5.5,"event":"stage_done","partition":0,"stage":0,"operator":0,"pid":10,"attempt":2}
{"t":6,"event":"job_end","state":"<form action=http://x>"}
EOF
printf '{"operators": [{"records_in": 1}], "stages": 7}\n' \
    >"$T/bad/counters.json"
run_prog report "$T/bad" -o "$T/bad.html" --trace "$T/bad.trace"
check_status "report of a tampered event log: exit status 0" 0
check "report: what the events hold is escaped" \
    test "$(grep -c '<form\|<script\|<img\|<b>\|<i>' "$T/bad.html")" = 0
check_py "report: a lane for the one partition, the crash marked" \
    report "$T/bad.html" 1 1
check_py "a second run after a reboot follows the first in the trace" \
    trace "$T/bad.trace" 1
cp -r "$T/jd1/status" "$T/bad/status"
"$PYTHON3" -c 'import struct, sys
f = open(sys.argv[1], "r+b"); f.seek(16); f.write(struct.pack("<I", 0xffffffff))' \
    "$T/bad/status/job"
run_prog status "$T/bad"
check_status "status of a damaged job page: exit status 2" 2
check_err "status of a damaged job page: says so" 'not a forkflow job page'

# --- A running job, seen from another terminal ---
# Its mappers sleep 3 s each in all, so that the job is still in stage 0
# after the checks below, which take over a second under the sanitizers
# on a busy machine.
slow_prog 60000 1000
start_bg slow run "$T/slow.json" -p 2 --job-dir "$T/jd3" -o "$T/o3" \
    --status-interval 0.3
# running: wait until status says a worker is busy.
running() {
	"$FORKFLOW" status --json "$T/jd3" >"$T/st3.json" 2>/dev/null &&
	    grep -q '"since_progress"' "$T/st3.json"
}
wait_for 20 running
check_py "status --json of a running job" status "$T/st3.json" running 2 2
"$FORKFLOW" status "$T/jd3" >"$T/st3.txt" 2>&1
check "status of a running job: seconds since progress" \
    grep -q '^  worker [01]: running pid [0-9]* stage [01] operator [0-9]*, [0-9]* records in, attempt 1, last progress [0-9.]* s ago$' \
    "$T/st3.txt"
wait_for 20 has_lines "$T/slow.err" '^  stages: ' 2
kill -KILL "$bg_pid"
wait_bg slow 20
check "the status blocks: stages" \
    grep -q '^  stages: [0-9] pending, [0-9] running, [0-9] completed, 0 failed$' \
    "$T/slow.err"
check "the status blocks: workers" \
    grep -q '^  worker [01]: running pid [0-9]* .*last progress [0-9.]* s ago$' \
    "$T/slow.err"
wait_for 10 no_procs "$T/jd3" || true
"$FORKFLOW" status --json "$T/jd3" >"$T/st4.json" 2>&1
check_py "status --json after the supervisor was killed: interrupted" \
    status "$T/st4.json" interrupted 2 2
check "status: the supervisor is not alive" \
    grep -q '"supervisor_alive": false' "$T/st4.json"
"$FORKFLOW" status "$T/jd3" >"$T/st4.txt" 2>&1
check "status says how to resume" grep -q 'to resume$' "$T/st4.txt"
run_prog run "$T/slow.json" -p 2 --job-dir "$T/jd3" -o "$T/o3"
check_status "the killed job resumes" 0
"$FORKFLOW" status --json "$T/jd3" >"$T/st5.json" 2>&1
check_py "status --json of the resumed job: done" status "$T/st5.json" done 2 2
check "the resumed job's events: two job_start" \
    test "$(grep -c '"event":"job_start"' "$T/jd3/events.jsonl")" = 2

# --- Logs ---
run_prog run "$T/obs.json" -p 2 --log-file "$T/log" -q
check_status "--log-file: exit status 0" 0
check "--log-file: the supervisor's lines, with times" \
    grep -q '^20[0-9-]*T[0-9:]*\.[0-9]*Z forkflow: worker 1 committed stage 0: ' \
    "$T/log"
check "--log-file: stage commits (-v's lines) without -v" \
    grep -q 'Z forkflow: stage 1 committed$' "$T/log"
check "--log-file: not on standard error without -v" test ! -s "$T/err"
run_prog run "$T/obs.json" -p 2 -v
check_err "-v: stage commits" '^forkflow: stage 1 committed$'
run_prog run "$T/obs.json" -p 2 -vv
check_err "-vv: forks" '^forkflow: worker 1 forked (pid [0-9]*), attempt 1$'

# --- Usage ---
run_prog run "$T/obs.json" --progress sometimes
check_status "--progress sometimes: exit status 2" 2
run_prog status "$T"
check_status "status of a folder with no job: exit status 2" 2
check_err "status of a folder with no job: says so" 'no forkflow job there'

check_no_jobdirs "no job directory left in TMPDIR"
