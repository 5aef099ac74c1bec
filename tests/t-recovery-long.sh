#!/bin/sh
# Crash recovery, at length (make check-long): the loops of t-recovery.sh
# many more times, on a larger input (the same program, with its filler
# maps, see lib.sh rec_prog; its result computed by awk):
#
# - worker kills: runs of the job in which two workers are killed with
#   kill -9 in each stage, after a random number of their checkpoints;
#   every run prints the same bytes, every kill is followed by "restarting
#   from checkpoint (stage S", and most resume from a checkpoint;
# - supervisor kills: jobs whose supervisor is killed three times at random
#   moments, each time run again with the same command and --job-dir: no
#   process is left, the journal never loses a committed stage, and the
#   last run prints the same bytes without running committed stages again;
# - chaos: runs with --chaos 0.05 (with --max-attempts 1000, then with the
#   default): the same bytes, and each restart line names the process
#   that died.
#
# It prints the figures: runs, kills, restarts and resumes seen, time.
#
# FORKFLOW_LONG_WORKER_KILLS (100), FORKFLOW_LONG_SUPERVISOR_KILLS (30),
# FORKFLOW_LONG_CHAOS_RUNS (5 of each kind), FORKFLOW_LONG_PAIRS (4000000)
# and FORKFLOW_RECOVERY_SEED (random) change it.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

n_wk=${FORKFLOW_LONG_WORKER_KILLS:-100}
n_sk=${FORKFLOW_LONG_SUPERVISOR_KILLS:-30}
n_chaos=${FORKFLOW_LONG_CHAOS_RUNS:-5}
n_pairs=${FORKFLOW_LONG_PAIRS:-4000000}
runs_wk=$(((n_wk + 5) / 6))
jobs_sk=$(((n_sk + 2) / 3))

plan $((3 + runs_wk * 3 + 1 + jobs_sk * 2 + n_chaos * 3 + 1))

cd "$T" || bail_out "cannot cd to $T"
t_start=$(date +%s)
seed=${FORKFLOW_RECOVERY_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "seed $seed (FORKFLOW_RECOVERY_SEED=$seed to repeat)"
rand_seed "$seed"

rec_pairs "$n_pairs" "$((seed % 100000 + 1))" >in.csv
slow=$T/slow.json
fast=$T/fast.json
rec_prog "$slow" 200 400 500
rec_prog "$fast" 0 0 0
rec_ref in.csv >want
check "awk's result is not empty" test -s want
lap "inputs and awk"

run_prog run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -vv
check_status "fault-free run: exit status" 0
check_file "fault-free run: the result awk computed" want "$T/out"
cp "$T/err" ff.log
lap "fault-free run"

# same FILE: FILE holds the result.
same() {
	cmp -s want "$1"
}

# --- Worker kills ----------------------------------------------------------

wk_kills=0
wk_restarts=0
wk_resumes=0
wk_late=0
run=0
while [ "$run" -lt "$runs_wk" ]; do
	run=$((run + 1))
	name=kw$run
	start_bg "$name" run "$slow" -i in.csv -p 3 --checkpoint-interval 1M \
	    -vv
	: >"$name.kills"
	for s in 0 1 2; do
		# Two workers of the three, each after its own count.
		rand 3
		p1=$r
		rand 2
		p2=$(((p1 + 1 + r) % 3))
		for p in $p1 $p2; do
			pick_n ff.log "$p" "$s"
			if hit_worker "$name" "$s"; then
				echo "$hit_p $hit_pid $s" >>"$name.kills"
			fi
		done
	done
	wait_bg "$name" 300
	missing=
	while read -r p pid s; do
		wk_kills=$((wk_kills + 1))
		if grep -q -e "^forkflow: worker $p (pid $pid) killed by signal 9; restarting from checkpoint (stage $s, " \
		    "$T/$name.err"; then
			wk_restarts=$((wk_restarts + 1))
		else
			missing="$missing $p/$pid/$s"
		fi
	done <"$name.kills"
	n=$(wc -l <"$name.kills")
	if [ "$n" -eq 6 ] && [ -z "$missing" ]; then
		ok "worker kill run $run: 6 kills, each restarted from a checkpoint"
	else
		not_ok "worker kill run $run: 6 kills, each restarted from a checkpoint"
		diag "$n kills; no restart line for (partition/pid/stage):$missing"
	fi
	r1=$(count_lines "$T/$name.err" ': resuming stage [0-9]* from checkpoint ')
	r2=$(count_lines "$T/$name.err" ': stage [0-9]* already committed$')
	wk_resumes=$((wk_resumes + r1))
	wk_late=$((wk_late + r2))
	if [ "$status" = 0 ] && same "$T/$name.out"; then
		ok "worker kill run $run: exit 0, the same result"
	else
		not_ok "worker kill run $run: exit 0, the same result (exit $status)"
		grep -v -e ': checkpoint ' "$T/$name.err" >"$T/diag"
		diag_file "$T/diag"
	fi
	if wait_for 5 no_procs "$slow" && [ -z "$(jobdirs)" ]; then
		ok "worker kill run $run: no process, no job directory left"
	else
		not_ok "worker kill run $run: no process, no job directory left"
		rm -rf "$TMPDIR"/forkflow.*
	fi
done
diag "worker kills: $wk_kills in $runs_wk runs; $wk_restarts restart lines;" \
    "$wk_resumes resumed from a checkpoint, $wk_late after the worker" \
    "had committed the stage"
check "most killed workers resumed from a checkpoint" \
    test $((wk_resumes * 10)) -ge $((wk_kills * 8))
lap "worker kills"

# --- Supervisor kills --------------------------------------------------

# sup_moment NAME JD P S N: worker P made N checkpoints of stage S, or the
# journal has stage S committed, or the job ended.
sup_moment() {
	has_lines "$T/$1.err" "$(ckpt_pat "$3" "$4")" "$5" ||
	    [ "$(committed "$2/journal")" -gt "$4" ] || ! bg_running "$1"
}

sk_kills=0
sk_resumed=0
job=0
while [ "$job" -lt "$jobs_sk" ]; do
	job=$((job + 1))
	jd=$T/jd$job
	done_stages=0
	bad=
	k=0
	while [ "$k" -lt 3 ]; do
		k=$((k + 1))
		name=ks$job-$k
		# A stage not yet committed, a worker, a number of its
		# checkpoints in this run (resumed, it makes fewer).
		rand $((3 - done_stages))
		s=$((done_stages + r))
		pick ff.log "$s"
		[ "$k" -eq 1 ] || hit_n=$(((hit_n + 1) / 2))
		start_bg "$name" run "$slow" -i in.csv -p 3 \
		    --checkpoint-interval 1M -vv --job-dir "$jd"
		sup=$bg_pid
		wait_for 120 sup_moment "$name" "$jd" "$hit_p" "$s" "$hit_n"
		kill -KILL "$sup" 2>/dev/null
		wait_bg "$name" 60
		if [ "$status" = 137 ]; then
			sk_kills=$((sk_kills + 1))
		elif [ "$status" != 0 ]; then
			bad="$bad; run $k: exit status $status"
		fi
		if ! wait_for 5 no_procs "$jd"; then
			bad="$bad; run $k: processes left"
		fi
		if [ "$k" -gt 1 ] && ! grep -q -e "^forkflow: resuming the job in $jd from stage $done_stages\$" \
		    "$T/$name.err"; then
			bad="$bad; run $k: no 'resuming the job ... from stage $done_stages'"
		else
			[ "$k" -eq 1 ] || sk_resumed=$((sk_resumed + 1))
		fi
		n=$(committed "$jd/journal")
		if [ "$n" -lt "$done_stages" ]; then
			bad="$bad; run $k: the journal went back from $done_stages to $n stages"
		fi
		done_stages=$n
		[ "$done_stages" -lt 3 ] || break
	done
	if [ -z "$bad" ]; then
		ok "supervisor kill job $job: $k runs killed, each resumed"
	else
		not_ok "supervisor kill job $job: $k runs killed, each resumed"
		diag "${bad#; }"
	fi
	run_prog run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -v \
	    --job-dir "$jd"
	again=
	m=0
	while [ "$m" -lt "$done_stages" ]; do
		! grep -q -e "committed stage $m:" "$T/err" || again="$again $m"
		m=$((m + 1))
	done
	if [ "$status" = 0 ] && same "$T/out" && [ -z "$again" ]; then
		ok "supervisor kill job $job: the last run gives the same result, committed stages not run again"
	else
		not_ok "supervisor kill job $job: the last run gives the same result, committed stages not run again"
		diag "exit status $status; stages run again:$again"
		diag_file "$T/err"
	fi
	rm -rf "$jd"
done
diag "supervisor kills: $sk_kills in $jobs_sk jobs; $sk_resumed runs resumed"
lap "supervisor kills"

# --- Chaos ---------------------------------------------------------------------

ch_kills=0
ch_restarts=0
i=0
while [ "$i" -lt "$n_chaos" ]; do
	i=$((i + 1))
	run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M \
	    --chaos 0.05 --max-attempts 1000 -vv
	ch_kills=$((ch_kills + $(count_lines "$T/err" ': chaos: killing worker')))
	ch_restarts=$((ch_restarts + $(count_lines "$T/err" 'restarting from checkpoint')))
	if [ "$status" = 0 ] && same "$T/out"; then
		ok "chaos run $i (--max-attempts 1000): exit 0, the same result"
	else
		not_ok "chaos run $i (--max-attempts 1000): exit 0, the same result (exit $status)"
		grep -v -e ': checkpoint ' "$T/err" >"$T/diag"
		diag_file "$T/diag"
	fi
	if pids_named "$T/err"; then
		ok "chaos run $i: each restart line names the process that died"
	else
		not_ok "chaos run $i: each restart line names the process that died"
		diag_file "$T/diag"
	fi
	run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M \
	    --chaos 0.05
	if [ "$status" = 0 ] && same "$T/out"; then
		ok "chaos run $i (default --max-attempts): exit 0, the same result"
	else
		not_ok "chaos run $i (default --max-attempts): exit 0, the same result (exit $status)"
		grep -v -e ': chaos: ' -e 'restarting from' "$T/err" >"$T/diag"
		diag_file "$T/diag"
		kept=$(kept_dir)
		[ -z "$kept" ] || rm -rf "$kept"
	fi
done
diag "chaos: $ch_kills kills, $ch_restarts restarts in $n_chaos runs with" \
    "--max-attempts 1000"
lap "chaos"

check_no_jobdirs "no job directory left in TMPDIR"
diag "t-recovery-long.sh: $(($(date +%s) - t_start)) s"
