#!/bin/sh
# Several hosts on Open MPI (make check-mpi): three fake hosts made of
# network namespaces on this machine (tests/mpi-hosts.sh), and the job's
# ranks started on them by forkflow run --hosts or --hostfile:
#
# - random programs of the differential test (tests/refeval.py) on 1, 2
#   and 3 hosts, with 3 and 4 partitions: the reference's bytes each time,
#   or exit 1 with its division by zero;
# - -o on 3 hosts: the same part files as on one host; forkflow run --mpi
#   started by mpirun itself; rank 0's result sent to the launcher on a
#   connection of its own, or through mpirun where it cannot reach it;
#   forkflow streaming with a mapper and a
#   reducer of shell; rank 0's events and report hold every host's
#   partitions;
# - a worker killed on a host (--inject-crash): restarted there, the same
#   bytes, and rank 0's status blocks show the other hosts' workers at
#   work; the live display, drawn by rank 0 alone and put on the
#   launcher's terminal (tmux), every host's workers in each frame, the
#   result shown after it; a host late at a barrier (a worker's backoffs) waited for past
#   --shuffle-timeout;
# - a rank killed: the job is aborted on every host and says how to
#   resume; the rerun with the same --job-dir exits 0 with the same bytes;
# - a file received from another host damaged on disk: sent again by it,
#   or produced here when it cannot be;
# - a host's link cut in the middle of a job: aborted within
#   --shuffle-timeout, not hung;
# - no process of the job is left here or on the hosts that can be
#   reached.
#
# Skipped where forkflow has no Open MPI or the machine cannot make
# namespaces (not root, no ip(8)); failed there instead with
# FORKFLOW_REQUIRE_MPI set.  FORKFLOW_MPI_SEED repeats the random
# programs, FORKFLOW_MPI_N (6) says how many.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

cd "$T" || bail_out "cannot cd to $T"

mpi_hosts ffm$$ "10.23$(($$ % 10)).$(($$ / 10 % 250))"

n=${FORKFLOW_MPI_N:-6}
plan $((n * 4 + 19))
seed=${FORKFLOW_MPI_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "seed $seed (FORKFLOW_MPI_SEED=$seed to repeat)"

# --- Random programs on 1, 2 and 3 hosts ---------------------------------

"$PYTHON3" "$SRCDIR/tests/refeval.py" gen "$seed" "$n" "$T/cases" \
    >"$T/gen" 2>&1 || bail_out "refeval.py gen failed: $(cat "$T/gen")"
i=0
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	c=$T/cases/$(printf %03d "$i")
	want=$(cat "$c/expect.status")
	p=$((3 + i % 2))
	for where in "1 host" "2 hosts" "3 hosts"; do
		case $where in
		"1 host")	set -- ;;
		"2 hosts")	set -- --hosts "$h1,$h2" ;;
		*)		set -- --hostfile "$H/hostfile" ;;
		esac
		st=0
		tmo 120 "$FORKFLOW" run "$c/prog.json" -p "$p" -q \
		    --max-attempts 1 "$@" </dev/null >out 2>err || st=$?
		check_case "case $i ($(cat "$c/desc")), -p $p, $where" "$c"
	done
	# The output folder, on one host and on three.
	if [ "$want" -eq 0 ]; then
		rm -rf o1 o3
		"$FORKFLOW" run "$c/prog.json" -p "$p" -q -o o1 </dev/null \
		    >/dev/null 2>err1
		st=0
		tmo 120 "$FORKFLOW" run "$c/prog.json" -p "$p" -q -o o3 \
		    --hostfile "$H/hostfile" </dev/null >/dev/null 2>err || st=$?
		check_parts "case $i: -o on 3 hosts writes one host's part files" \
		    o1 o3
	else
		ok "case $i: -o not tried (the job fails)"
	fi
done
lap "random programs"

# Hadoop Streaming as written, its -output folder, on 2 hosts.
ex=$SRCDIR/examples
rm -rf so1 so2
"$FORKFLOW" streaming -input "$ex/text" -output so1 -numReduceTasks 3 \
    -mapper "$ex/streaming/mapper.sh" -reducer "$ex/streaming/reducer.sh" \
    </dev/null >/dev/null 2>err1
st=0
tmo 120 "$FORKFLOW" streaming -input "$ex/text" -output so2 \
    -numReduceTasks 3 -mapper "$ex/streaming/mapper.sh" \
    -reducer "$ex/streaming/reducer.sh" --hosts "$h1,$h2" </dev/null \
    >/dev/null 2>err || st=$?
if [ "$st" = 0 ] && [ -f so1/part-00002 ] && cmp -s so1/part-00000 so2/part-00000 &&
    cmp -s so1/part-00001 so2/part-00001 && cmp -s so1/part-00002 so2/part-00002
then
	ok "forkflow streaming on 2 hosts: one host's parts"
else
	not_ok "forkflow streaming on 2 hosts: one host's parts (exit $st)"
	diag_file err1
	diag_file err
fi

# One log for the job: rank 0's job directory has the events of every
# host's partitions, the others' with their host, and the report draws
# them all.
c=$(grep -l '^0$' "$T"/cases/*/expect.status | head -n 1)
c=${c%/expect.status}
rm -rf jdl
st=0
tmo 120 "$FORKFLOW" run "$c/prog.json" -p 3 -q --job-dir jdl \
    --hostfile "$H/hostfile" </dev/null >/dev/null 2>err || st=$?
ev=jdl/rank-0/events.jsonl
bad=
for q in 0 1 2; do
	grep -q "\"event\":\"stage_start\",\"partition\":$q," "$ev" ||
	    bad="$bad $q"
done
if [ "$st" = 0 ] && [ -z "$bad" ] &&
    grep -q "\"partition\":1,.*\"host\":\"$h2\"" "$ev" &&
    grep -q "\"partition\":2,.*\"host\":\"$h3\"" "$ev" &&
    "$FORKFLOW" report -o report.html jdl/rank-0 >/dev/null 2>&1 &&
    grep -q 'partition 2' report.html; then
	ok "rank 0's events and report: every host's partitions"
else
	not_ok "rank 0's events and report: every host's partitions"
	diag "exit $st; partitions without a stage_start:${bad:- none}"
	diag_file err
fi

# forkflow run --mpi under mpirun, as forkflow(1) shows it, on the last
# case that succeeds.
c=$(grep -l '^0$' "$T"/cases/*/expect.status | tail -n 1)
c=${c%/expect.status}
st=0
tmo 120 mpirun --hostfile "$H/hostfile" --map-by node -np 3 \
    "$FORKFLOW" run "$c/prog.json" -p 4 -q --mpi </dev/null >out 2>err ||
    st=$?
if [ "$st" = 0 ] && cmp -s "$c/expect.out" out; then
	ok "mpirun ... forkflow run --mpi: the reference's bytes"
else
	not_ok "mpirun ... forkflow run --mpi: the reference's bytes (exit $st)"
	diag_file err
fi

# Rank 0's result comes straight to forkflow run --hosts, on a connection
# of its own (mpirun relays a few KiB a message); where rank 0 cannot
# reach the address it is given, through mpirun.
many_job
st=0
tmo 120 "$FORKFLOW" run many.json -i many.csv -p 3 -v \
    --hostfile "$H/hostfile" </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s many.want out &&
    grep -q 'the result goes to the launcher at ' err; then
	ok "the result of 3 hosts comes on rank 0's own connection"
else
	not_ok "the result of 3 hosts comes on rank 0's own connection (exit $st)"
	diag_file err
fi
st=0
tmo 120 mpirun --hostfile "$H/hostfile" --map-by node -np 3 \
    -x FORKFLOW_RESULT=127.0.0.1:1:token "$FORKFLOW" run many.json \
    -i many.csv -p 3 -v --mpi </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s many.want out &&
    grep -q 'the launcher cannot be reached' err; then
	ok "a launcher rank 0 cannot reach: the result through mpirun"
else
	not_ok "a launcher rank 0 cannot reach: the result through mpirun (exit $st)"
	diag_file err
fi

# --- Crashes ---------------------------------------------------------------

# A slow job (seconds).
slow_job
"$FORKFLOW" run slow.json -i slow.csv -p 3 -q >want.slow 2>want.err ||
    bail_out "the slow job fails on one host: $(cat want.err)"

# A worker of partition 1 (on the second host) crashes at its 1000th
# record: its host forks it again, the others never know.
st=0
tmo 120 "$FORKFLOW" run slow.json -i slow.csv -p 3 --hostfile "$H/hostfile" \
    --inject-crash 1:1:1000 </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s want.slow out &&
    grep -q 'worker 1 .*restarting' err; then
	ok "a worker killed on a host: restarted there, the same bytes"
else
	not_ok "a worker killed on a host: restarted there, the same bytes"
	diag "exit $st"
	diag_file err
fi
# Status blocks, rank 0's alone, show the third host's worker at work.
cat slow.csv slow.csv >slow2.csv
tmo 120 "$FORKFLOW" run slow.json -i slow2.csv -p 3 --hostfile "$H/hostfile" \
    --status-interval 1 </dev/null >/dev/null 2>err
if grep -q '^forkflow: on 3 hosts: job ' err &&
    grep -Eq '^  worker 2: running pid [0-9]+ stage 0 operator [0-9]+, [1-9][0-9]* records in' err; then
	ok "rank 0's status blocks show every host's workers"
else
	not_ok "rank 0's status blocks show every host's workers"
	diag_file err
fi

# The live display, with --progress always to a file: rank 0's frames
# alone, each erased before the next is drawn, each with a line for every
# host's worker; no frame record is left in it.
"$FORKFLOW" run slow.json -i slow2.csv -p 3 -q >want.slow2 2>/dev/null
st=0
tmo 120 "$FORKFLOW" run slow.json -i slow2.csv -p 3 --hostfile "$H/hostfile" \
    --progress always </dev/null >out 2>err || st=$?
frames_ok err || st=frames
if [ "$st" = 0 ] && cmp -s want.slow2 out; then
	ok "--progress always on 3 hosts: one display, every host's workers"
else
	not_ok "--progress always on 3 hosts: one display, every host's workers"
	diag "exit $st: $(cat "$T/frames.err")"
	diag_file err
fi

# On the launcher's terminal, with the result written there too: frames
# at the terminal's width, a crash on another host printed above them,
# the screen clean at the end and the result whole on it.
if command -v tmux >/dev/null 2>&1; then
	in_tmux "'$FORKFLOW' run '$T/slow.json' -i '$T/slow2.csv' -p 3 \
	    --hostfile '$H/hostfile' --inject-crash 1:0:200000" 60
	# The bar and a line, to its last column, for each host's worker.
	frame_all() {
		screen
		grep -q '^\[[#-]*\] *[0-9]*%  stage [0-2] of 3 ' "$T/screen" &&
		    [ "$(grep -c '^p[0-2]   stage [0-2] of 3 .* attempt [12]$' \
		    "$T/screen")" = 3 ]
	}
	if wait_for 60 frame_all; then
		ok "the launcher's terminal shows the bar and every host's worker"
	else
		not_ok "the launcher's terminal shows the bar and every host's worker"
		diag_file "$T/screen"
	fi
	wait_for 60 test -f "$T/done"
	screen
	tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
	check "the job on the terminal succeeds" test "$(cat "$T/done")" = 0
	check "a crash on the second host is printed above the display" \
	    grep -q 'worker 1 (pid [0-9]*) killed by signal 9; restarting' \
	    "$T/screen"
	miss=0
	while IFS= read -r l; do
		grep -qxF -- "$l" "$T/screen" || miss=$((miss + 1))
	done <want.slow2
	if [ "$miss" = 0 ] &&
	    [ "$(grep -c -e '^p[0-2]   stage' -e '^\[[#-]*\]' \
	    -e 'forkflow-frame' "$T/screen")" = 0 ]; then
		ok "the display is gone at the end, the result whole after it"
	else
		not_ok "the display is gone at the end, the result whole after it"
		diag "$miss lines of the result missing"
		diag_file "$T/screen"
	fi
else
	for d in "the launcher's terminal shows the bar and every host's worker" \
	    "the job on the terminal succeeds" \
	    "a crash on the second host is printed above the display" \
	    "the display is gone at the end, the result whole after it"; do
		skip "$d" "no tmux"
	done
fi

# A host late at a barrier is waited for, however late, while it is heard
# from: partition 1 crashes 4 times, backing off 0, 1, 2 and 4 s, with a
# --shuffle-timeout of 2 s.
head -n 30000 slow.csv >late.csv
"$FORKFLOW" run slow.json -i late.csv -p 3 -q >want.late 2>/dev/null
st=0
tmo 120 "$FORKFLOW" run slow.json -i late.csv -p 3 --inject-crash 1:0:0:4 \
    --max-attempts 8 --shuffle-timeout 2 --hostfile "$H/hostfile" \
    </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s want.late out &&
    [ "$(count_lines err 'restarting')" = 4 ]; then
	ok "a host late at a barrier is waited for, past --shuffle-timeout"
else
	not_ok "a host late at a barrier is waited for, past --shuffle-timeout"
	diag "exit $st"
	diag_file err
fi

# A rank killed: the rank of the second host, while the job runs.
rm -rf jd
"$FORKFLOW" run slow.json -i slow.csv -p 3 -q --job-dir jd \
    --hostfile "$H/hostfile" </dev/null >out 2>err &
lpid=$!
rank=
tries=0
while [ -z "$rank" ] && [ "$tries" -lt 200 ]; do
	for pid in $(ip netns pids "$h2" 2>/dev/null); do
		if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null |
		    grep -q -- ' --mpi'; then
			# The rank, not one of its workers: its parent is
			# not a forkflow.
			pp=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null)
			{ tr '\0' ' ' <"/proc/$pp/cmdline"; } 2>/dev/null |
			    grep -q -- ' --mpi' || rank=$pid
		fi
	done
	[ -n "$rank" ] || sleep 0.05
	tries=$((tries + 1))
done
sleep 1
[ -n "$rank" ] && kill -KILL "$rank"
st=0
wait "$lpid" || st=$?
if [ -n "$rank" ] && [ "$st" = 1 ] &&
    grep -q "the job failed on its hosts: rank 1 on host $h2 was killed by signal 9" err &&
    grep -q "to resume, run forkflow run .*--job-dir jd" err; then
	ok "a rank killed: the job is aborted on every host, naming the host, with how to resume"
else
	not_ok "a rank killed: the job is aborted on every host, naming the host, with how to resume"
	diag "rank ${rank:-not found}, exit $st"
	diag_file err
fi
st=0
tmo 120 "$FORKFLOW" run slow.json -i slow.csv -p 3 -q --job-dir jd \
    --hostfile "$H/hostfile" </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s want.slow out; then
	ok "its rerun with the same --job-dir: exit 0, the same bytes"
else
	not_ok "its rerun with the same --job-dir: exit 0, the same bytes"
	diag "exit $st"
	diag_file err
fi

# A file received from another host, damaged on disk after its stage was
# committed: the worker that reads it has it sent again by the host whose
# output it is, instead of producing it and the stages before it here.
# Partition 1, alone on the second host, fails as it commits the last
# stage; then a byte of its bucket in what the first host sent it flips
# (its last byte that is not a hole: the other buckets are holes there).
rm -rf jdd
st=0
tmo 120 "$FORKFLOW" run slow.json -i slow.csv -p 3 -q --job-dir jdd \
    --hosts "$h1,$h2" --inject-crash 1:commit:2 --max-attempts 1 \
    </dev/null >/dev/null 2>err || st=$?
cat >"$T/flip.py" <<'PY'
import sys
for path in sys.argv[1:]:
    b = bytearray(open(path, 'rb').read())
    i = max(i for i in range(len(b)) if b[i] != 0)
    b[i] ^= 0x10
    open(path, 'wb').write(b)
PY
"$PYTHON3" "$T/flip.py" jdd/rank-1/s1/w0.data jdd/rank-1/s1/w2.data ||
    st="no file to damage"
st2=0
tmo 120 "$FORKFLOW" run slow.json -i slow.csv -p 3 --job-dir jdd \
    --hosts "$h1,$h2" </dev/null >out 2>err2 || st2=$?
if [ "$st" = 1 ] && [ "$st2" = 0 ] && cmp -s want.slow out &&
    grep -q '^forkflow: s1/w[02].data: damaged at offset [0-9]*, found by worker 1: it is asked for again of the host that sent it$' err2 &&
    grep -q "^forkflow: jdd/rank-0/s1/w[02].data: asked for again by host $h2; sending it$" err2 &&
    ! grep -q 'done again' err2; then
	ok "a damaged file from another host is sent again by it, the same bytes"
else
	not_ok "a damaged file from another host is sent again by it, the same bytes"
	diag "exit $st, then $st2"
	diag_file err2
fi

# The same, with the sender's own file gone: it says it cannot send it,
# and the worker produces it on its own host, as on one machine.
rm -rf jdd
st=0
tmo 120 "$FORKFLOW" run slow.json -i slow.csv -p 3 -q --job-dir jdd \
    --hosts "$h1,$h2" --inject-crash 1:commit:2 --max-attempts 1 \
    </dev/null >/dev/null 2>err || st=$?
"$PYTHON3" "$T/flip.py" jdd/rank-1/s1/w0.data || st="no file to damage"
rm -f jdd/rank-0/s1/w0.data
st2=0
tmo 120 "$FORKFLOW" run slow.json -i slow.csv -p 3 --job-dir jdd \
    --hosts "$h1,$h2" </dev/null >out 2>err2 || st2=$?
if [ "$st" = 1 ] && [ "$st2" = 0 ] && cmp -s want.slow out &&
    grep -q "^forkflow: jdd/rank-1/s1/w0.data: host $h1 could not send it again; it is produced here$" err2 &&
    grep -q "^forkflow: s1/w0.data: damaged at offset [0-9]*, found by worker 1: its writer's stage is done again$" err2; then
	ok "a damaged file its host cannot send again is produced here, the same bytes"
else
	not_ok "a damaged file its host cannot send again is produced here, the same bytes"
	diag "exit $st, then $st2"
	diag_file err2
fi
lap "a worker and a rank killed"

# A host's link cut while the job runs: no hang, an abort within the
# shuffle's timeout (and mpirun's own teardown).
# The cut falls once the job runs its first stage: a cut during MPI_Init
# is mpirun's to notice.
rm -rf jdc
start=$(date +%s)
"$FORKFLOW" run slow.json -i slow.csv -p 3 -q --shuffle-timeout 5 \
    --job-dir jdc --hostfile "$H/hostfile" </dev/null >out 2>err &
lpid=$!
wait_for 60 grep -q '"stage_start"' jdc/rank-0/events.jsonl 2>/dev/null
sh "$SRCDIR/tests/mpi-hosts.sh" cut "$H" "$h3" >/dev/null 2>&1
st=0
# wait(1) has no timeout: watch the launcher for 120 s from here.
tries=0
while kill -0 "$lpid" 2>/dev/null && [ "$tries" -lt 1200 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
if kill -0 "$lpid" 2>/dev/null; then
	kill -KILL "$lpid" 2>/dev/null
	st=hung
fi
[ "$st" = hung ] || wait "$lpid" || st=$?
took=$(($(date +%s) - start))
if [ "$st" != hung ] && [ "$st" != 0 ] &&
    grep -q "the job failed on its hosts: .*host $h3" err
then
	ok "a host's link cut: the job is aborted naming the host, not hung ($took s)"
else
	not_ok "a host's link cut: the job is aborted naming the host, not hung ($took s)"
	diag "exit $st"
	diag_file err
fi
lap "a link cut"

# What the aborts left on the hosts that can be reached, and here: nothing
# once mpirun's teardown is done.  (The cut host's Open MPI daemon waits
# for a network that does not come back; down kills it.)
left() {
	for _h in "$h1" "$h2"; do
		ip netns pids "$_h" 2>/dev/null
	done
	_cut=" $(ip netns pids "$h3" 2>/dev/null | tr '\n' ' ') "
	for _p in $(pgrep -f -- 'forkflow|mpirun|orted' 2>/dev/null); do
		case $_cut in
		*" $_p "*)	continue ;;
		esac
		case "$(readlink "/proc/$_p/cwd" 2>/dev/null)" in
		"$T"*)	echo "$_p"; continue ;;
		esac
		{ tr '\0' ' ' <"/proc/$_p/cmdline"; } 2>/dev/null | grep -q -- "$T/" &&
		    echo "$_p"
	done
}
tries=0
while [ -n "$(left)" ] && [ "$tries" -lt 100 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
left=$(left)
if [ -z "$left" ]; then
	ok "no process of the job is left, but on the cut host"
else
	not_ok "no process of the job is left, but on the cut host"
	for pid in $left; do
		diag "$pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)"
	done
fi
