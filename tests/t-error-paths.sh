#!/bin/sh
# Error paths of a run that come from its surroundings, not its arguments:
# a signal while forkflow waits on a FIFO or on standard input, a file
# that says it is empty but is not (/proc/version), standard output on a
# full device, limits on memory (ulimit -v) and on descriptors (ulimit -n),
# and a journal whose first line a crash cut short.  Each ends with its
# documented status and message and leaves no job directory it made.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 32

cd "$T" || bail_out "cannot cd to $T"
printf '1,10\n2,20\n1,5\n' >in.csv
cat >sum.json <<'EOF2'
{"operations": [{"operator": "reduce", "function": "SUM"}]}
EOF2
cat >words.json <<'EOF2'
{"input": {"path": "-", "format": "text"}, "output": {"format": "tsv"},
 "operations": [{"operator": "flatMap", "function": "WORDS"},
  {"operator": "reduce", "function": "SUM"}]}
EOF2

# no_crash: the last run's standard error has no crash in it.
no_crash() {
	! grep -q -E 'free\(\)|Segmentation|Aborted|AddressSanitizer|runtime error|core dumped' "$T/err"
}

# have_jobdir: a job directory is in TMPDIR; wait_for polls it ("$(jobdirs)"
# in wait_for's arguments would be expanded once, before it starts).
have_jobdir() {
	[ -n "$(jobdirs)" ]
}

# A SIGINT while forkflow waits for a FIFO's writer, then for its data.
mkfifo fifo
start_bg fifo run sum.json -i fifo
wait_for 10 have_jobdir
kill -INT "$bg_pid"
wait_bg fifo 10
check_status "SIGINT while opening a FIFO: exit status 1" 1
check "SIGINT while opening a FIFO: says so" \
    grep -q 'interrupted by signal 2 before the job started' "$T/fifo.err"
check_no_jobdirs "SIGINT while opening a FIFO: no job directory left"
# The same once a writer holds the FIFO open, mid-read.
start_bg fifo2 run sum.json -i fifo
{ printf '1,2\n'; sleep 30; } >fifo &
writer=$!
wait_for 10 have_jobdir
sleep 0.2
kill -INT "$bg_pid"
wait_bg fifo2 10
kill "$writer" 2>/dev/null
check_status "SIGINT while reading a FIFO: exit status 1" 1
check_no_jobdirs "SIGINT while reading a FIFO: no job directory left"
# And on standard input, which a writer holds open.
mkfifo fifo3
{ printf '1,2\n'; sleep 30; } >fifo3 &
writer=$!
status=0
"$FORKFLOW" run sum.json -i - <fifo3 >"$T/out" 2>"$T/err" &
ff=$!
wait_for 10 have_jobdir
sleep 0.2
kill -INT "$ff"
wait "$ff" || status=$?
kill "$writer" 2>/dev/null
check_status "SIGINT while reading standard input: exit status 1" 1
check_no_jobdirs "SIGINT while reading standard input: no job directory left"

# A SIGINT that comes before forkflow waits for a FIFO's writer, not
# during the wait: here it is pending, blocked, from the start.  The wait
# must still be cut short by it, not block for ever; for an input FIFO,
# and for a program FIFO, read before the job directory is made.
if "$PYTHON3" -c 'import signal' 2>/dev/null; then
	mkfifo fifo4 progfifo
	for what in input program; do
		case $what in
		input)	set -- sum.json -i fifo4 ;;
		*)	set -- progfifo -i in.csv ;;
		esac
		status=0
		tmo 20 "$PYTHON3" -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
os.kill(os.getpid(), signal.SIGINT)
os.execvp(sys.argv[1], sys.argv[1:])' "$FORKFLOW" run "$@" \
		    >"$T/out" 2>"$T/err" || status=$?
		check_status "SIGINT before the wait for an $what FIFO: exit status 1" 1
		check "SIGINT before the wait for an $what FIFO: says so" \
		    grep -q 'interrupted by signal 2 before the job started' \
		    "$T/err"
		check_no_jobdirs "SIGINT before the wait for an $what FIFO: no job directory left"
	done
else
	for what in input program; do
		skip "SIGINT before the wait for an $what FIFO: exit status 1" \
		    "no $PYTHON3"
		skip "SIGINT before the wait for an $what FIFO: says so" \
		    "as above"
		skip "SIGINT before the wait for an $what FIFO: no job directory left" \
		    "as above"
	done
fi

# /proc/version says it has 0 bytes: it is read to its end all the same.
tr -c 'A-Za-z' '\n' </proc/version | tr 'A-Z' 'a-z' | grep . |
    LC_ALL=C sort | uniq -c | awk '{ print $2 "\t" $1 }' >want.words
run_prog run words.json -i /proc/version -q
check_status "/proc/version: exit status 0" 0
check_file "/proc/version: its words, read to its end" want.words "$T/out"

# Standard output on a full device: the job is lost, and so is its
# job directory (nothing a rerun could use).
status=0
"$FORKFLOW" run sum.json -i in.csv -q >/dev/full 2>"$T/err" || status=$?
check_status "stdout on /dev/full: exit status 1" 1
check_err "stdout on /dev/full: says so" 'writing the output: No space left on device'
check_no_jobdirs "stdout on /dev/full: no job directory kept"

# An input mmap cannot map under ulimit -v: a run-time failure (1), not
# bad input (2).  A build whose sanitizers reserve memory cannot run under
# the limit at all: then this is skipped, and the probe's own report is
# kept out of the sanitizer lane's folder of reports (it is expected).
truncate -s 600M sparse.csv
status=0
(ulimit -v 400000 && ASAN_OPTIONS=log_path=stderr \
    exec "$FORKFLOW" run sum.json -i in.csv -q) >/dev/null 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	skip "ulimit -v: exit status 1" "forkflow cannot run under ulimit -v here"
	skip "ulimit -v: names the file and the call" "as above"
	skip "ulimit -v: no job directory left" "as above"
else
	status=0
	(ulimit -v 400000 && exec "$FORKFLOW" run sum.json -i sparse.csv -p 1) \
	    >"$T/out" 2>"$T/err" || status=$?
	check_status "ulimit -v: exit status 1" 1
	check_err "ulimit -v: names the file and the call" \
	    'sparse.csv: mmap: Cannot allocate memory'
	check_no_jobdirs "ulimit -v: no job directory left"
fi
rm -f sparse.csv

# Too few descriptors: a clear error before anything starts, not libev's
# abort.
status=0
(ulimit -n 7 && exec "$FORKFLOW" run sum.json -i in.csv -p 2) \
    >"$T/out" 2>"$T/err" || status=$?
check_status "ulimit -n 7: exit status 1" 1
check_err "ulimit -n 7: says so" 'too few file descriptors: 2 partitions need 66'
check "ulimit -n 7: no crash" no_crash
check_no_jobdirs "ulimit -n 7: no job directory left"

# A journal whose first line a crash cut short: the job starts again in
# that job directory, and the run after that resumes it.
mkdir jd
printf 'job 12ab' >jd/journal
run_prog run sum.json -i in.csv --job-dir jd -q
check_status "a cut journal: the job runs" 0
run_prog run sum.json -i in.csv --job-dir jd -q
check_status "a cut journal: the next run takes the job directory" 0
check "a cut journal: one header" \
    test "$(grep -c '^job ' jd/journal)" = 1

# A NUL byte in the middle of a journal's line, which ends with its
# newline, is damage, not a line that a crash cut short: the run says so
# and notes it in the events, then does again what the line recorded.
run_prog run sum.json -i in.csv --job-dir jdn -q
head1=$(head -n 1 jdn/journal | wc -c)
printf '\000' | dd of=jdn/journal bs=1 seek=$((head1 + 5)) conv=notrunc \
    2>/dev/null
run_prog run sum.json -i in.csv --job-dir jdn -q
check_status "a NUL in the journal: the job runs" 0
check_err "a NUL in the journal: says it is damaged" \
    'journal: line 2 damaged (at offset'
check "a NUL in the journal: a damaged event" \
    grep -q '"event":"damaged".*"file":"journal"' jdn/events.jsonl

check_no_jobdirs "no job directory left in TMPDIR"
