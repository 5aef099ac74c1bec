#!/bin/sh
# forkflow run --mpi started by Slurm (make check-mpi): a Slurm cluster of
# one node made here for the test, with its own munged, slurmctld and
# slurmd, their state and sockets in the test's folder and ports of its
# own, then:
#
# - srun --mpi=pmix -n 2 forkflow run --mpi: one host's bytes on standard
#   output, and -o's part files;
# - sbatch --requeue, as forkflow(1) shows it: a rank killed in the first
#   run, srun --kill-on-bad-exit ends the step, the script requeues the
#   job, and the second run resumes from the same --job-dir (its events
#   say "resumed") and writes one host's part files.
#
# Skipped where the machine has no Slurm, no munge, or the test is not
# root (slurmd must be); failed there instead with FORKFLOW_REQUIRE_MPI.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

cd "$T" || bail_out "cannot cd to $T"
need_mpi
PATH=$PATH:/usr/sbin:/sbin
for c in munged slurmctld slurmd srun sbatch scontrol scancel sinfo pgrep; do
	command -v "$c" >/dev/null 2>&1 || skip_mpi "no $c (Slurm, munge)"
done
[ "$(id -u)" = 0 ] || skip_mpi "slurmd needs root"

plan 5

# --- A cluster of one node ------------------------------------------------

S=$T/slurm
mkdir -p "$S/state" "$S/spool" "$S/munge" "$S/log"
chmod 700 "$S/munge"
dd if=/dev/urandom of="$S/munge/key" bs=1024 count=1 2>/dev/null
chmod 400 "$S/munge/key"
# Ports of this run's (another run may have its cluster up), below the
# ephemeral ones; the processors slurmd finds (a cpuset may have fewer
# than the machine).
port=$((10000 + $$ % 20000 / 2 * 2))
cpus=$(slurmd -C 2>/dev/null | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
cat >"$S/slurm.conf" <<EOF
ClusterName=ff$$
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=localhost CPUs=${cpus:-1} State=UNKNOWN
PartitionName=ff Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
SLURM_CONF=$S/slurm.conf
export SLURM_CONF
# Open MPI as the other MPI tests run it: as root, with more ranks than
# cores where need be.
OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OMPI_MCA_rmaps_base_oversubscribe=1
OMPI_MCA_btl=tcp,vader,self
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
    OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_btl

# live_pid FILE: the pid in FILE, if its process lives.
live_pid() {
	_p=$(cat "$1" 2>/dev/null) && [ -n "$_p" ] && kill -0 "$_p" 2>/dev/null &&
	    echo "$_p"
}
# stop_cluster: cancel what the test left queued or running, stop the
# daemons, and kill any process still at work in $T (the ranks and their
# workers outlive a slurmd that is killed).
stop_cluster() {
	tmo 10 scancel --user=root --full >/dev/null 2>&1
	wait_for 10 none_left
	for _f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munge/pid"; do
		_p=$(live_pid "$_f") && kill -TERM "$_p"
	done
	sleep 1
	for _f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munge/pid"; do
		_p=$(live_pid "$_f") && kill -KILL "$_p"
	done
	_p=$(left)
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$_p" ] || kill -KILL $_p 2>/dev/null
	return 0
}
# left: the processes that run this test's program; none_left: there are
# none.
left() {
	pgrep -f -- "$T/slow.json" 2>/dev/null
}
none_left() {
	[ -z "$(left)" ]
}
at_exit stop_cluster

munged --key-file="$S/munge/key" --socket="$S/munge/sock" \
    --pid-file="$S/munge/pid" --seed-file="$S/munge/seed" \
    --log-file="$S/log/munged.log" --force 2>"$T/munged.err" ||
    skip_mpi "munged does not start: $(cat "$T/munged.err")"
slurmctld -f "$SLURM_CONF" -i 2>"$T/slurmctld.err" ||
    skip_mpi "slurmctld does not start: $(cat "$T/slurmctld.err")"
slurmd -f "$SLURM_CONF" 2>"$T/slurmd.err" ||
    skip_mpi "slurmd does not start: $(cat "$T/slurmd.err")"
node_idle() {
	tmo 10 sinfo -h -o %t 2>/dev/null | grep -qx idle
}
if ! wait_for 30 node_idle; then
	diag_file "$S/log/slurmctld.log"
	diag_file "$S/log/slurmd.log"
	skip_mpi "the Slurm node does not come up"
fi
srun --mpi=list 2>&1 | grep -q pmix || skip_mpi "Slurm has no PMIx"

# --- srun ------------------------------------------------------------------

slow_job
"$FORKFLOW" run slow.json -i slow.csv -p 4 -q >want.out 2>want.err ||
    bail_out "the job fails on one host: $(cat want.err)"
rm -rf o1
"$FORKFLOW" run slow.json -i slow.csv -p 4 -q -o o1 2>want.err ||
    bail_out "the job fails on one host: $(cat want.err)"

# same_parts DIR: DIR has o1's part files, and its _SUCCESS.
same_parts() {
	[ -f "$1/_SUCCESS" ] || return 1
	[ "$(ls o1 | wc -l)" = "$(ls "$1" | wc -l)" ] || return 1
	for _f in o1/part-*; do
		cmp -s "$_f" "$1/${_f#o1/}" || return 1
	done
}

st=0
tmo 120 srun --mpi=pmix -O -n 2 "$FORKFLOW" run slow.json -i slow.csv \
    -p 4 -q --mpi </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && cmp -s want.out out; then
	ok "srun -n 2 forkflow run --mpi: one host's bytes"
else
	not_ok "srun -n 2 forkflow run --mpi: one host's bytes (exit $st)"
	diag_file err
fi
rm -rf o2
st=0
tmo 120 srun --mpi=pmix -O -n 2 "$FORKFLOW" run slow.json -i slow.csv \
    -p 4 -q --mpi -o o2 </dev/null >out 2>err || st=$?
if [ "$st" = 0 ] && same_parts o2; then
	ok "srun ... -o: one host's part files"
else
	not_ok "srun ... -o: one host's part files (exit $st)"
	diag_file err
fi

# --- sbatch --requeue ------------------------------------------------------

# The batch script of forkflow(1), with a rank killed in its first run
# (SLURM_RESTART_COUNT is set in the runs after it) once both ranks have
# started the job: the rank, not one of its workers, is the forkflow whose
# parent is slurmstepd.
cat >job.sh <<EOF
#!/bin/sh
#SBATCH --requeue --nodes=1 --ntasks-per-node=2
#SBATCH --output=$T/job.out --open-mode=append
if [ -z "\${SLURM_RESTART_COUNT:-}" ]; then
	(i=0
	while [ \$i -lt 600 ] && [ "\$(cat $T/sjd/rank-*/events.jsonl 2>/dev/null |
	    grep -c '"job_start"')" != 2 ]; do
		sleep 0.05
		i=\$((i + 1))
	done
	for p in \$(pgrep -f -- '$T/slow.json'); do
		pp=\$(awk '{ print \$4 }' /proc/\$p/stat)
		if [ "\$(cat /proc/\$pp/comm)" = slurmstepd ]; then
			echo "test: killing rank \$p"
			kill -KILL \$p
			break
		fi
	done) &
fi
srun --mpi=pmix --kill-on-bad-exit=1 \\
    $FORKFLOW run $T/slow.json -i $T/slow.csv -p 4 -q --mpi \\
    --job-dir $T/sjd -o $T/so
st=\$?
# 1: the job failed, to be resumed; 2: it would fail again.
if [ \$st -ne 0 ] && [ \$st -ne 2 ] && [ "\${SLURM_RESTART_COUNT:-0}" -lt 3 ]; then
	scontrol requeue "\$SLURM_JOB_ID"
fi
exit \$st
EOF
rm -rf sjd so
job=$(tmo 10 sbatch -O --parsable job.sh 2>err) || {
	diag_file err
	bail_out "sbatch failed"
}
# no_step: none of the job's step daemons is left (a new run's step would
# take the name of one of them).
no_step() {
	! pgrep -f "slurmstepd: \[$job\." >/dev/null 2>&1 && none_left
}
# job_state: the job's state and restarts, as scontrol shows them.
job_state() {
	tmo 10 scontrol show job "$job" 2>/dev/null |
	    sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p; s/.*Restarts=\([0-9]*\).*/\1/p' |
	    tr '\n' ' '
}
requeued() {
	case $(job_state) in
	"PENDING 1 ")	return 0 ;;
	esac
	return 1
}
# A requeued job waits a while (two minutes) before it may start again:
# the test lets it start once the first run's processes are gone.
if wait_for 60 requeued && grep -q 'test: killing rank' job.out; then
	ok "sbatch --requeue: a rank killed, the job is requeued"
else
	not_ok "sbatch --requeue: a rank killed, the job is requeued"
	diag "state: $(job_state)"
	diag_file job.out
fi
if ! wait_for 40 no_step; then
	diag "the first run's processes are still there:"
	for pid in $(left) $(pgrep -f "slurmstepd: \[$job\."); do
		diag "$pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)"
	done
fi
tmo 10 scontrol update jobid="$job" starttime=now 2>/dev/null
done_ok() {
	case $(job_state) in
	"COMPLETED "*|"FAILED "*|"CANCELLED "*|"TIMEOUT "*)	return 0 ;;
	esac
	return 1
}
wait_for 120 done_ok || tmo 10 scancel "$job" 2>/dev/null
resumed=$(cat sjd/rank-*/events.jsonl 2>/dev/null |
    grep -c '"event":"job_start".*"resumed":true')
if [ "$(job_state)" = "COMPLETED 1 " ] && same_parts so &&
    [ "$resumed" = 2 ] && grep -q 'test: killing rank' job.out; then
	ok "its second run resumes from the --job-dir: one host's part files"
else
	not_ok "its second run resumes from the --job-dir: one host's part files"
	diag "state: $(job_state); hosts that resumed: $resumed"
	diag_file job.out
	diag_file "$S/log/slurmd.log"
fi
wait_for 10 none_left
if [ -z "$(left)" ]; then
	ok "no process of the jobs is left"
else
	not_ok "no process of the jobs is left"
	diag "left: $(left | tr '\n' ' ')"
fi
