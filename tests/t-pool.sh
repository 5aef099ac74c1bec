#!/bin/sh
# forkflow pool (make check-mpi): ranks kept up on three fake hosts of
# network namespaces (tests/mpi-hosts.sh), and jobs run on them one after
# the other with forkflow run --pool:
#
# - random programs of the differential test (tests/refeval.py): the
#   reference's bytes, or exit 1 with its division by zero, and then the
#   next job runs; -o writes one host's part files; forkflow streaming;
#   the result on rank 0's own connection to the pool;
# - a bad program: exit 2 and its file, line and column, as on one host;
# - a worker killed on a host: the same bytes;
# - forkflow run --pool interrupted: exit 1, how to resume, and the rerun
#   gives the same bytes; a rank killed: the host named, and the ranks
#   started again for the next job;
# - the ranks keep no descriptor of a job, and do not spin between jobs;
# - another user cannot connect; usage errors; a socket with no pool;
# - SIGTERM stops the pool: its socket removed, no process left.
#
# Skipped as t-mpi.sh is.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

cd "$T" || bail_out "cannot cd to $T"

mpi_hosts ffp$$ "10.24$(($$ % 10)).$(($$ / 10 % 250))"

n=${FORKFLOW_MPI_N:-4}
plan $((n + 32))
seed=${FORKFLOW_MPI_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "seed $seed (FORKFLOW_MPI_SEED=$seed to repeat)"

S=$T/pool.sock
"$FORKFLOW" pool "$S" --hostfile "$H/hostfile" </dev/null >pool.out \
    2>pool.err &
pool=$!
at_exit "kill $pool 2>/dev/null"
ready() {
	grep -q 'ready on' pool.err
}
if wait_for 60 ready; then
	ok "the pool's ranks are up on 3 hosts"
else
	not_ok "the pool's ranks are up on 3 hosts"
	diag_file pool.err
	bail_out "no pool"
fi

# ranks [HOST...]: the pids of the ranks on the hosts (all three).
ranks() {
	[ $# -gt 0 ] || set -- "$h1" "$h2" "$h3"
	for _h in "$@"; do
		for _p in $(ip netns pids "$_h" 2>/dev/null); do
			tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null |
			    grep -q 'pool --rank' && echo "$_p"
		done
	done
}
# What descriptors the ranks hold.
fds() {
	for _p in $(ranks); do
		find "/proc/$_p/fd" -mindepth 1 2>/dev/null | wc -l
	done | tr '\n' ' '
}
# A job through the pool: out and err here.
pooled() {
	st=0
	tmo 120 "$FORKFLOW" run "$@" -q --pool "$S" </dev/null >out 2>err ||
	    st=$?
}

# --- Random programs ------------------------------------------------------

"$PYTHON3" "$SRCDIR/tests/refeval.py" gen "$seed" "$n" "$T/cases" \
    >"$T/gen" 2>&1 || bail_out "refeval.py gen failed: $(cat "$T/gen")"
i=0
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	c=$T/cases/$(printf %03d "$i")
	p=$((3 + i % 2))
	pooled "$c/prog.json" -p "$p" --max-attempts 1
	check_case "case $i ($(cat "$c/desc")), -p $p, through the pool" "$c"
done

# -o, and a job of another command.
i=0
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	c=$T/cases/$(printf %03d "$i")
	[ "$(cat "$c/expect.status")" = 0 ] && break
done
rm -rf o1 o3
"$FORKFLOW" run "$c/prog.json" -p 4 -q -o o1 </dev/null >/dev/null 2>&1
pooled "$c/prog.json" -p 4 -o o3
check_parts "-o through the pool writes one host's part files" o1 o3
if [ "$(stat -c %a o1 o1/part-00000)" = "$(stat -c %a o3 o3/part-00000)" ]
then
	ok "-o through the pool: the modes of this umask, as on one host"
else
	not_ok "-o through the pool: the modes of this umask, as on one host"
	diag "one host: $(stat -c %a o1 o1/part-00000 | tr '\n' ' ');" \
	    "the pool: $(stat -c %a o3 o3/part-00000 | tr '\n' ' ')"
fi
ex=$SRCDIR/examples
"$FORKFLOW" streaming -input "$ex/text" -output so1 -numReduceTasks 3 \
    -mapper "$ex/streaming/mapper.sh" -reducer "$ex/streaming/reducer.sh" \
    </dev/null >/dev/null 2>&1
st=0
tmo 120 "$FORKFLOW" streaming -input "$ex/text" -output so2 \
    -numReduceTasks 3 -mapper "$ex/streaming/mapper.sh" \
    -reducer "$ex/streaming/reducer.sh" --pool "$S" </dev/null \
    >/dev/null 2>err || st=$?
if [ "$st" = 0 ] && cat so1/part-* >s1 && cat so2/part-* >s2 &&
    cmp -s s1 s2 && [ -s s1 ]; then
	ok "forkflow streaming through the pool: one host's parts"
else
	not_ok "forkflow streaming through the pool: one host's parts (exit $st)"
	diag_file err
fi

# The result on rank 0's own connection to the pool, whatever address
# the job's environment says.
many_job
st=0
FORKFLOW_RESULT=127.0.0.1:1:token tmo 120 "$FORKFLOW" run many.json \
    -i many.csv -p 3 -v --pool "$S" </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s many.want out &&
    grep -q 'the result goes to the launcher at ' err; then
	ok "the result comes to the pool on rank 0's own connection"
else
	not_ok "the result comes to the pool on rank 0's own connection (exit $st)"
	diag_file err
fi

# --- Errors ---------------------------------------------------------------

printf '1,2\n3,4\n' >small.csv
printf '{"operations": [\n {"operator": "map", "expr": "v +"}]}\n' >bad.json
"$FORKFLOW" run bad.json -i small.csv -p 3 </dev/null >/dev/null 2>err1
pooled bad.json -i small.csv -p 3
if [ "$st" = 2 ] && [ ! -s out ] && grep -q '^bad.json:2:' err &&
    grep -F -q -x "$(head -1 err1)" err; then
	ok "a bad program through the pool: exit 2, its line and column"
else
	not_ok "a bad program through the pool: exit 2, its line and column"
	diag "exit $st"
	diag_file err
fi
printf '{"operations": [{"operator": "map", "expr": "v * 3"},\n' >ok.json
printf ' {"operator": "changeKey", "expr": "v %% 7"},\n' >>ok.json
printf ' {"operator": "reduce", "function": "SUM"}]}\n' >>ok.json
awk 'BEGIN { for (i = 0; i < 30000; i++) print i % 101 "," i }' >ok.csv
"$FORKFLOW" run ok.json -i ok.csv -p 3 -q </dev/null >ok.want 2>/dev/null
pooled ok.json -i ok.csv -p 3
if [ "$st" = 0 ] && cmp -s ok.want out; then
	ok "the job after it: the ranks started again, the same bytes"
else
	not_ok "the job after it: the ranks started again, the same bytes"
	diag "exit $st"
	diag_file err
fi
pooled ok.json -i ok.csv -p 3 --inject-crash 1:1:100
if [ "$st" = 0 ] && cmp -s ok.want out; then
	ok "a worker killed on a host: restarted, the same bytes"
else
	not_ok "a worker killed on a host: restarted, the same bytes (exit $st)"
	diag_file err
fi

st=0
tmo 120 "$FORKFLOW" run ok.json -i ok.csv -p 3 -q --poo "$S" </dev/null \
    >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s ok.want out; then
	ok "--poo, getopt's for --pool: the ranks do not get it"
else
	not_ok "--poo, getopt's for --pool: the ranks do not get it (exit $st)"
	diag_file err
fi
# Requests that are not whole: one descriptor, or none; the pool keeps
# none of them, and goes on.
pfds() {
	find "/proc/$pool/fd" -mindepth 1 2>/dev/null | wc -l
}
p0=$(pfds)
"$PYTHON3" - "$S" <<'PY' >py.err 2>&1
import socket, sys
for fds in ([1], [], [1, 2, 2]):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socket.send_fds(s, [b'\0\0\0\2'], fds)
    s.sendall(b'{}')
    s.settimeout(20)
    s.recv(64)
    s.close()
PY
pooled ok.json -i ok.csv -p 3
if [ "$st" = 0 ] && cmp -s ok.want out && [ "$(pfds)" = "$p0" ]; then
	ok "requests that are not whole: refused, no descriptor kept"
else
	not_ok "requests that are not whole: refused, no descriptor kept"
	diag "exit $st; descriptors $p0, then $(pfds)"
	diag_file py.err
fi
st=0
"$FORKFLOW" run ok.json -i - --pool "$S" <ok.csv >out 2>err || st=$?
check "standard input as input: a usage error" test "$st" = 2
st=0
"$FORKFLOW" run ok.json -i ok.csv --pool "$S" --hosts "$h1" </dev/null \
    >out 2>err || st=$?
check "--pool with --hosts: a usage error" test "$st" = 2
st=0
"$FORKFLOW" run ok.json -i ok.csv --pool "$T/none.sock" </dev/null \
    >out 2>err || st=$?
if [ "$st" = 1 ] && grep -q 'none.sock: no forkflow pool there' err; then
	ok "a socket with no pool: exit 1, named"
else
	not_ok "a socket with no pool: exit 1, named (exit $st)"
	diag_file err
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 755 "$T"
	st=0
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$FORKFLOW" run "$T/ok.json" -i "$T/ok.csv" --pool "$S" \
	    </dev/null >out 2>err || st=$?
	chmod 700 "$T"
	if [ "$st" = 1 ] && grep -q 'Permission denied' err; then
		ok "another user cannot run a job on the pool"
	else
		not_ok "another user cannot run a job on the pool (exit $st)"
		diag_file err
	fi
else
	skip "another user cannot run a job on the pool" "not root"
fi

# --- Stopped and lost -------------------------------------------------------

slow_job
"$FORKFLOW" run slow.json -i slow.csv -p 3 -q </dev/null >slow.want \
    2>/dev/null
# The display, and a second job that waits for the first.
start_bg display run slow.json -i slow.csv -p 3 --progress always --pool "$S"
sleep 0.5
pooled ok.json -i ok.csv -p 4
"$FORKFLOW" run ok.json -i ok.csv -p 4 -q </dev/null >ok2.want 2>/dev/null
if [ "$st" = 0 ] && cmp -s ok2.want out; then
	ok "a job while another runs: it waits its turn, its bytes"
else
	not_ok "a job while another runs: it waits its turn, its bytes (exit $st)"
	diag_file err
fi
wait_bg display 120
frames_ok "$T/display.err" || status="$status, frames"
if [ "$status" = 0 ] && cmp -s slow.want "$T/display.out"; then
	ok "--progress always through the pool: one display, every host's workers"
else
	not_ok "--progress always through the pool: one display, every host's workers"
	diag "exit $status: $(cat "$T/frames.err")"
	diag_file "$T/display.err"
fi

start_bg int run slow.json -i slow.csv -p 3 -q --pool "$S" --job-dir jd
sleep 1
kill -INT "$bg_pid"
wait_bg int 60
if [ "$status" = 1 ] && grep -q 'interrupted.*to resume, run forkflow run' \
    "$T/int.err"; then
	ok "forkflow run --pool interrupted: exit 1, how to resume"
else
	not_ok "forkflow run --pool interrupted: exit 1, how to resume"
	diag "exit $status"
	diag_file "$T/int.err"
fi
pooled slow.json -i slow.csv -p 3 --job-dir jd
if [ "$st" = 0 ] && cmp -s slow.want out &&
    grep -q '"resumed":true' jd/rank-0/events.jsonl; then
	ok "the rerun resumes it: the same bytes"
else
	not_ok "the rerun resumes it: the same bytes (exit $st)"
	diag_file err
fi

start_bg lost run slow.json -i slow.csv -p 3 -q --pool "$S"
sleep 1
for v in $(ranks "$h2"); do
	kill -KILL "$v" 2>/dev/null
done
wait_bg lost 60
if [ "$status" = 1 ] && grep -q "failed on its hosts: rank 1 on host $h2" \
    "$T/lost.err"; then
	ok "a rank killed: the job fails, the host named"
else
	not_ok "a rank killed: the job fails, the host named"
	diag "exit $status"
	diag_file "$T/lost.err"
fi
pooled ok.json -i ok.csv -p 3
check "the next job runs on ranks started again" \
    cmp -s ok.want out

# Results that cannot be written fail the job, as on one host.
st=0
tmo 120 "$FORKFLOW" run many.json -i many.csv -p 3 -q --pool "$S" \
    </dev/null >/dev/full 2>err || st=$?
if [ "$st" = 1 ] && grep -q 'writing the output: No space left' err; then
	ok "a full disk for the result: exit 1, said"
else
	not_ok "a full disk for the result: exit 1, said (exit $st)"
	diag_file err
fi

# A stop signal that reaches idle ranks is for no job.
kill -USR1 "$(pgrep -P "$pool" mpirun)"
sleep 1
pooled ok.json -i ok.csv -p 3
if [ "$st" = 0 ] && cmp -s ok.want out && ! grep -q 'ranks ended' pool.err
then
	ok "SIGUSR1 to idle ranks: they wait on, the next job runs"
else
	not_ok "SIGUSR1 to idle ranks: they wait on, the next job runs (exit $st)"
	diag_file pool.err
fi

# A job stopped while it waits for its turn never runs.
start_bg first run slow.json -i slow.csv -p 3 -q --pool "$S"
sleep 0.5
start_bg queued run ok.json -i ok.csv -p 3 -q --pool "$S"
sleep 0.5
kill -INT "$bg_pid"
wait_bg queued 120
qst=$status
wait_bg first 120
if [ "$qst" = 1 ] && [ ! -s "$T/queued.out" ] &&
    grep -q 'interrupted before the job started' "$T/queued.err" &&
    [ "$status" = 0 ]; then
	ok "a job stopped in the queue: exit 1, never run; the one before ends"
else
	not_ok "a job stopped in the queue: exit 1, never run; the one before ends"
	diag "exit $qst, and $status for the one before"
	diag_file "$T/queued.err"
fi

# A reader that stops reading holds up no one: the job's client stopped
# with Control-C, the pool goes on to the next job.
mkfifo stuck.fifo
# shellcheck disable=SC2217 # it opens the fifo, and reads nothing
sleep 120 <stuck.fifo &
reader=$!
"$FORKFLOW" run many.json -i many.csv -p 3 -q --pool "$S" </dev/null \
    >stuck.fifo 2>stuck.err &
client=$!
sleep 3
kill -INT "$client"
tries=0
while kill -0 "$client" 2>/dev/null && [ "$tries" -lt 300 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
kill -KILL "$client" 2>/dev/null
cst=0
wait "$client" || cst=$?
pooled ok.json -i ok.csv -p 3
kill "$reader" 2>/dev/null
if [ "$cst" = 1 ] && [ "$tries" -lt 300 ] && [ "$st" = 0 ] &&
    cmp -s ok.want out && grep -q 'interrupted' stuck.err; then
	ok "a client whose output is not read stops on Control-C; the next job runs"
else
	not_ok "a client whose output is not read stops on Control-C; the next job runs"
	diag "exit $cst after $tries tenths of a second; the next: $st"
	diag_file stuck.err
fi

# --- What the ranks keep ------------------------------------------------------

# The same ranks before and after some jobs hold as many descriptors.
before=$(fds)
pooled ok.json -i ok.csv -p 3 --log-file "$T/a.log"
wc -c <a.log >a.size
pooled ok.json -i ok.csv -p 3 -o o5
after=$(fds)
if [ -s a.log ] && [ "$(wc -c <a.log)" = "$(cat a.size)" ]; then
	ok "a job's --log-file is its own: the next job writes none in it"
else
	not_ok "a job's --log-file is its own: the next job writes none in it"
fi
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	ok "the ranks keep no descriptor of a job ($after)"
else
	not_ok "the ranks keep no descriptor of a job"
	diag "before: $before; after: $after"
fi
# Between jobs they wait without spinning: little CPU time in 3 s.
ticks() {
	for _p in $(ranks); do
		awk '{ print $14 + $15 }' "/proc/$_p/stat"
	done | awk '{ t += $1 } END { print t }'
}
t0=$(ticks)
sleep 3
t1=$(ticks)
hz=$(getconf CLK_TCK)
if [ $((t1 - t0)) -lt $((hz * 3 * 3 / 10)) ]; then
	ok "idle ranks take little CPU ($((t1 - t0)) ticks of $hz in 3 s)"
else
	not_ok "idle ranks take little CPU ($((t1 - t0)) ticks of $hz in 3 s)"
fi

# --- Stopped ----------------------------------------------------------------

# A file where the socket would go is left alone.
echo keep >notasocket
st=0
"$FORKFLOW" pool notasocket --hosts "$h1" </dev/null >/dev/null 2>err ||
    st=$?
if [ "$st" = 2 ] && [ "$(cat notasocket)" = keep ] &&
    grep -q 'notasocket: there already, and no socket' err; then
	ok "a file where the socket would go: exit 2, the file kept"
else
	not_ok "a file where the socket would go: exit 2, the file kept (exit $st)"
	diag_file err
fi

# Ranks that cannot be started: tried three times, then an error.
st=0
tmo 60 "$FORKFLOW" pool "$T/bad.sock" --hosts nosuchhost </dev/null \
    >/dev/null 2>bad.err || st=$?
if [ "$st" = 1 ] && grep -q 'could not be started 3 times' bad.err &&
    [ ! -e "$T/bad.sock" ]; then
	ok "ranks that cannot be started: exit 1 after three tries"
else
	not_ok "ranks that cannot be started: exit 1 after three tries (exit $st)"
	diag_file bad.err
fi

start_bg last run slow.json -i slow.csv -p 3 -q --pool "$S" --job-dir jd2
sleep 1
kill -TERM "$pool"
wait_bg last 60
if [ "$status" = 1 ] &&
    grep -q 'interrupted.*to resume, run forkflow run' "$T/last.err"; then
	ok "SIGTERM to the pool stops its job as Control-C does"
else
	not_ok "SIGTERM to the pool stops its job as Control-C does (exit $status)"
	diag_file "$T/last.err"
fi
st=0
tmo 30 sh -c "while kill -0 $pool 2>/dev/null; do sleep 0.1; done" || st=$?
wait "$pool" 2>/dev/null
pst=$?
if [ "$st" = 0 ] && [ "$pst" = 0 ] && [ ! -e "$S" ]; then
	ok "SIGTERM stops the pool: exit 0, its socket removed"
else
	not_ok "SIGTERM stops the pool: exit 0, its socket removed ($st, $pst)"
	diag_file pool.err
fi
left() {
	for _h in "$h1" "$h2" "$h3"; do
		ip netns pids "$_h" 2>/dev/null
	done
}
if wait_for 20 test -z "$(left)"; then
	ok "no process is left on the hosts"
else
	not_ok "no process is left on the hosts"
	for _p in $(left); do
		diag "$(tr '\0' ' ' <"/proc/$_p/cmdline" 2>/dev/null)"
	done
fi
