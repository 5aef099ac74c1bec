#!/bin/sh
# An input that changes while its job runs, or before it resumes, stops the
# job with exit status 2 and a message naming the file, never exit 0 with a
# result of neither version.  During a run: the input replaced by a file of
# the same size (renamed over it, or written in place), or only touched,
# then a worker killed, so that the worker forked again opens the input
# once more; a file of a folder past those the supervisor can keep open
# under a low descriptor limit, touched before its worker comes to it.
# Before a resume: the supervisor killed, the input touched or replaced,
# and the same command run again.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 6

cd "$T" || bail_out "cannot cd to $T"

# fresh: a new $T/slow.csv and slow.json (slow_prog: 2000 pairs, the
# mapper sleeping 0.1 s every 100 lines, about 1 s on each of two
# partitions), and new.csv, of the same size with other bytes.
fresh() {
	slow_prog 2000 100
	tr 0123456789 1234567890 <slow.csv >new.csv
}

# change HOW: change slow.csv as HOW says.
change() {
	case $1 in
	rename)	cp new.csv slow.tmp && mv slow.tmp slow.csv ;;
	write)	dd if=new.csv of=slow.csv conv=notrunc 2>/dev/null ;;
	touch)	touch slow.csv ;;
	esac
}

# workers N: the supervisor $bg_pid has N workers.
workers() {
	[ "$(pgrep -P "$bg_pid" | wc -l)" -ge "$1" ]
}

# refused DESC NAME WHAT: the job whose standard error is in $T/NAME.err,
# its exit status in $status, stopped with status 2, saying that slow.csv
# changed (WHAT differs), and printed no result.
refused() {
	if [ "$status" = 2 ] && [ ! -s "$T/$2.out" ] && grep -q -F -e \
	    "$T/slow.csv: changed since the job started ($3 differs)" \
	    "$T/$2.err"; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit status $status, $(wc -l <"$T/$2.out") lines of" \
		    "output; standard error:"
		diag_file "$T/$2.err"
	fi
}

# start HOW: start the job on a fresh input in the background, in job
# directory $T/jd$n with n counting up, and wait for its workers; in $what,
# what a change HOW makes differ.
n=0
start() {
	case $1 in
	rename)	what=inode ;;
	*)	what="modification time" ;;
	esac
	n=$((n + 1))
	fresh
	start_bg run run slow.json -p 2 --job-dir "$T/jd$n"
	wait_for 20 workers 2 || diag "$1: the workers did not start"
}

# During a run: change the input, then kill a worker.
for how in rename write touch; do
	start "$how"
	change "$how"
	kill -KILL "$(pgrep -P "$bg_pid" | head -n 1)" 2>/dev/null
	wait_bg run 60
	refused "input $how during the run, a worker killed: exit 2" run \
	    "$what"
done

# Before a resume: kill the supervisor, change the input, run again.
for how in touch rename; do
	start "$how"
	kill -KILL "$bg_pid"
	wait_bg run 20
	change "$how"
	run_prog run slow.json -p 2 --job-dir "$T/jd$n"
	cp "$T/out" "$T/resume.out"
	cp "$T/err" "$T/resume.err"
	refused "input $how before a resume: exit 2" resume "$what"
done

# A folder of more files than the descriptors left for them: those past
# the ones kept open are opened by path, and checked too.  The last file,
# which worker 1 reads, touched, then worker 1 killed.
mkdir many
i=0
while [ "$i" -lt 60 ]; do
	awk -v f="$i" 'BEGIN { for (j = 0; j < 50; j++) print f "," j }' \
	    >"many/f$(printf %02d "$i").csv"
	i=$((i + 1))
done
cat >many.json <<'EOF'
{"operations": [
  {"operator": "mapper", "command":
   "awk '{ print; fflush() } NR % 100 == 0 { system(\"sleep 0.1\") }'"},
  {"operator": "reducer", "command": "cat"}]}
EOF
(
	ulimit -n 90 || exit 99
	exec "$FORKFLOW" run many.json -i many -p 2 -vv </dev/null \
	    >"$T/many.out" 2>"$T/many.err"
) &
pid=$!
wait_for 20 has_lines "$T/many.err" '^forkflow: worker 1 forked' 1
touch many/f59.csv
kill -KILL "$(worker_pid "$T/many.err" 1)" 2>/dev/null
status=0
wait "$pid" || status=$?
if [ "$status" = 2 ] && [ ! -s many.out ] && grep -q -F -e \
    "many/f59.csv: changed since the job started (modification time differs)" \
    many.err; then
	ok "a file opened by path past those kept open, touched: exit 2"
else
	not_ok "a file opened by path past those kept open, touched: exit 2"
	diag "exit status $status; standard error:"
	diag_file many.err
fi
