#!/bin/sh
# Crash recovery (issue 3).  A three-stage program (filter, map, changeKey,
# reduce SUM | map, changeKey, reduce MAX | map) runs on 1.6 M generated
# pairs with 3 partitions and a checkpoint every 1 MiB of input; its result
# is computed once by awk, independently, and every run below must print
# the same bytes:
#
# - kill -9 of a worker from outside, after a random number of its
#   checkpoints in each stage, in two runs: the supervisor logs "restarting
#   from checkpoint (stage S", attempt 2, and the new worker "resuming
#   stage S from checkpoint" G, its last checkpoint;
# - kill -9 of the supervisor in each stage, then the same command on the
#   same --job-dir: no process is left, the journal's committed stages are
#   not run again ("resuming the job in DIR from stage N", no "committed
#   stage M" for M < N, their files untouched), the killed stage resumes
#   from the workers' checkpoints;
# - a job directory with another program, input or partition count is
#   refused ("holds another job"), one whose input changed since with exit
#   2 ("changed since the job started"), and so is a second supervisor on
#   a running job's directory ("is in use by another forkflow");
# - a worker stopped with SIGSTOP under --heartbeat-timeout 1 is found
#   ("made no progress"), killed and replaced;
# - a checkpoint file with a flipped bit in its newest slot resumes from the
#   generation before; truncated, cut inside a slot, or overwritten: the
#   older slot or the stage's start is used (stage 0 and stage 1);
# - a worker killed once its stage's output is in place but before its
#   checkpoint says so (--inject-crash P:commit:S), that output then cut
#   short: the same command gives the result (stage 0's run file, the last
#   stage's part); with -o, the next attempt gives it;
# - a crash on one record on every attempt (--inject-crash P:OP:R:99):
#   exit 1 with the message naming partition, stage, operator, signal,
#   attempts and the record (key, value, FILE:LINE, checked against the
#   input); with --skip-bad-records the job completes, lists the record on
#   standard error and in JOBDIR/skipped, and its result is that of the
#   input without that line;
# - a full disk (a 1 MiB tmpfs, when mount is allowed) as job directory or
#   as the output's parent: exit 1, "No space left on device", nothing
#   presented as complete;
# - SIGINT: exit 1, "to resume, run forkflow run ... --job-dir DIR", and
#   that command completes the job;
# - --chaos 0.05: the job completes with the right output, and each
#   "restarting" line names the process that died.
#
# To make each stage last long enough to be hit, the program holds filler
# maps "v % (k + 3000000000) % (k + 3000000001) ..." that leave every value
# as it is but cost a division each; "fast.json" is the same program
# without them.  FORKFLOW_RECOVERY_SEED repeats the random choices.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 116

cd "$T" || bail_out "cannot cd to $T"
t_start=$(date +%s)

seed=${FORKFLOW_RECOVERY_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "seed $seed (FORKFLOW_RECOVERY_SEED=$seed to repeat)"
rand_seed "$seed"

rec_pairs 1600000 "$((seed % 100000 + 1))" >in.csv
head -n 20000 in.csv >small.csv
slow=$T/slow.json
fast=$T/fast.json
rec_prog "$slow" 200 400 500
rec_prog "$fast" 0 0 0
rec_ref in.csv >want
rec_ref small.csv >want.small
check "awk's result is not empty" test "$(wc -l <want)" -gt 100000

# same DESC FILE: FILE holds the expected result.
same() {
	check_file "$1" want "$2"
}

lap "inputs and awk"

# --- Fault-free runs ----------------------------------------------------

run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M
check_status "fault-free run: exit status" 0
same "fault-free run: the result awk computed" "$T/out"
run_prog run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -vv
check_status "fault-free run with filler maps: exit status" 0
same "fault-free run with filler maps: the same result" "$T/out"
cp "$T/err" ff.log

lap "fault-free runs"

# --- kill -9 of a worker, in every stage -----------------------------------

# resumed_last LOG P S PID: after the death of worker P (pid PID), its next
# attempt resumed stage S from its last checkpoint G logged before (or
# G + 1, published just before the kill and not logged yet).  Says which.
resumed_last() {
	awk -v p="$2" -v s="$3" -v pid="$4" '
	!killed && index($0, "forkflow: worker " p ": checkpoint ") == 1 {
		g = $5; sub(/:$/, "", g)
	}
	index($0, "forkflow: worker " p " (pid " pid ") killed") == 1 {
		killed = 1
	}
	killed && index($0, "forkflow: worker " p ": resuming stage " s \
	    " from checkpoint ") == 1 {
		found = 1
		exit
	}
	END {
		if (!found) {
			print "no resuming line after the kill"
			exit 1
		}
		print "last checkpoint logged " g ", resumed from " $9
		exit !($9 == g || $9 == g + 1)
	}' "$1"
}

for run in 1 2; do
	start_bg "kw$run" run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -vv
	for s in 0 1 2; do
		pick ff.log "$s"
		desc="worker kill run $run, stage $s: worker $hit_p after $hit_n checkpoints"
		if ! hit_worker "kw$run" "$s"; then
			not_ok "$desc: restarted (1 failure in a row)"
			not_ok "$desc: resumed from its last checkpoint"
			diag "the job ended first, or was not there after 60 s"
			continue
		fi
		restart="^forkflow: worker $hit_p (pid $hit_pid) killed by signal 9; restarting from checkpoint (stage $s, operator [0-9]*): attempt [0-9]*, failures in a row 1 of 4\$"
		resume="^forkflow: worker $hit_p: resuming stage $s from checkpoint [0-9]* "
		if wait_for 20 has_lines "$T/kw$run.err" "$restart" 1; then
			ok "$desc: restarted (1 failure in a row)"
		else
			not_ok "$desc: restarted (1 failure in a row)"
			grep -e "worker $hit_p" "$T/kw$run.err" |
			    grep -v ': checkpoint ' >"$T/diag"
			diag_file "$T/diag"
		fi
		wait_for 20 has_lines "$T/kw$run.err" "$resume" 1
		if why=$(resumed_last "$T/kw$run.err" "$hit_p" "$s" "$hit_pid"); then
			ok "$desc: resumed from its last checkpoint ($why)"
		else
			not_ok "$desc: resumed from its last checkpoint"
			diag "$why"
			grep -e "worker $hit_p" "$T/kw$run.err" >"$T/diag"
			diag_file "$T/diag"
		fi
	done
	wait_bg "kw$run" 120
	if [ "$status" = 0 ]; then
		ok "worker kill run $run: exit status 0"
	else
		not_ok "worker kill run $run: exit status $status"
		grep -v ': checkpoint ' "$T/kw$run.err" >"$T/diag"
		diag_file "$T/diag"
	fi
	same "worker kill run $run: the same result" "$T/kw$run.out"
	check "worker kill run $run: no process left" wait_for 5 no_procs "$slow"
	check_no_jobdirs "worker kill run $run: the job directory is removed"
done

lap "worker kills"

# --- kill -9 of the supervisor ------------------------------------------

# snap DIR N: the inode, size and modification time of the stage files of
# stages before N.
snap() {
	_i=0
	while [ "$_i" -lt "$2" ]; do
		ls -li --full-time "$1/s$_i"
		_i=$((_i + 1))
	done
}

for s in 0 1 2; do
	jd=$T/jd-sup$s
	pick ff.log "$s"
	desc="supervisor kill in stage $s (after $hit_n checkpoints of worker $hit_p)"
	start_bg "ks$s" run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -vv --job-dir "$jd"
	sup=$bg_pid
	if wait_for 60 has_lines "$T/ks$s.err" "$(ckpt_pat "$hit_p" "$s")" \
	    "$hit_n"; then
		kill -KILL "$sup"
	fi
	wait_bg "ks$s" 60
	check_status "$desc: killed" 137
	check "$desc: no process of the job is left" \
	    wait_for 5 no_procs "$jd"
	n=$(committed "$jd/journal")
	check "$desc: the journal has $s stages committed" test "$n" -eq "$s"
	snap "$jd" "$n" >before
		run_prog run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -v --job-dir "$jd"
	check_status "$desc: the same command again: exit status" 0
	same "$desc: the same command again: the same result" "$T/out"
	check_err "$desc: the job resumes from stage $n" \
	    "^forkflow: resuming the job in $jd from stage $n\$"
	m=0
	again=
	while [ "$m" -lt "$n" ]; do
		if grep -q -e "committed stage $m:" "$T/err"; then
			again="$again $m"
		fi
		m=$((m + 1))
	done
	snap "$jd" "$n" >after
	if [ -z "$again" ] && cmp -s before after; then
		ok "$desc: committed stages are not run again"
	else
		not_ok "$desc: committed stages are not run again"
		diag "run again:$again"
		diff before after | sed -e 's/^/#   /' -e 10q
	fi
	check_err "$desc: worker $hit_p resumes stage $s from its checkpoint" \
	    "^forkflow: worker $hit_p: resuming stage $s from checkpoint"
done

lap "supervisor kills"

# --- Job directories that hold another job, or are in use -------------------

jd=$T/jd-other
run_prog run "$fast" -i small.csv -p 2 --job-dir "$jd"
check_status "small job: exit status" 0
check_file "small job: the result awk computed" want.small "$T/out"

# refused_as DESC STATUS TEXT ARGS...: forkflow ARGS exits STATUS saying
# TEXT; refused DESC ARGS...: exits 1 saying the job directory holds
# another job.
refused_as() {
	_desc=$1
	_want=$2
	_text=$3
	shift 3
	run_prog "$@"
	if [ "$status" = "$_want" ] && grep -q -F -e "$_text" "$T/err"; then
		ok "$_desc"
	else
		not_ok "$_desc"
		diag "exit status $status; standard error:"
		diag_file "$T/err"
	fi
}

refused() {
	_rdesc=$1
	shift
	refused_as "$_rdesc" 1 "job directory $jd holds another job" "$@"
}

sed -e 's/v % 13 != 0/v % 13 != 1/' fast.json >other.json
refused "another program on the job directory is refused" \
    run other.json -i small.csv -p 2 --job-dir "$jd"
refused "another partition count on the job directory is refused" \
    run "$fast" -i small.csv -p 3 --job-dir "$jd"
cp small.csv small.orig
echo "5,5" >>small.csv
refused_as "a changed input on the job directory is refused, naming it" 2 \
    "small.csv: changed since the job started (size differs)" \
    run "$fast" -i small.csv -p 2 --job-dir "$jd"
refused "another input file on the job directory is refused" \
    run "$fast" -i small.orig -p 2 --job-dir "$jd"
mv small.orig small.csv

# A second supervisor on a running job; then SIGSTOP of a worker.
jd=$T/jd-stop
start_bg stop run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -vv --job-dir "$jd" --heartbeat-timeout 1
sup=$bg_pid
wait_for 20 test -s "$jd/journal"
run_prog run "$slow" -i in.csv -p 3 --checkpoint-interval 1M --job-dir "$jd"
if [ "$status" = 1 ] && grep -q -F -e \
    "job directory $jd is in use by another forkflow (pid $sup)" "$T/err"; then
	ok "a second supervisor on a running job's directory is refused"
else
	not_ok "a second supervisor on a running job's directory is refused"
	diag "exit status $status; standard error:"
	diag_file "$T/err"
fi

# --- SIGSTOP of a worker: found by the heartbeat and replaced -----------

# Worker 1, once it has made 2 checkpoints of stage 0.
stopped=
if wait_for 60 has_lines "$T/stop.err" "$(ckpt_pat 1 0)" 2; then
	stopped=$(worker_pid "$T/stop.err" 1)
	t0=$(date +%s)
	kill -STOP "$stopped"
fi
found="^forkflow: worker 1 (pid $stopped) made no progress for [0-9.]* s; killing it\$"
if [ -n "$stopped" ] && wait_for 10 has_lines "$T/stop.err" "$found" 1; then
	ok "SIGSTOP: the stopped worker is found within 10 s ($(($(date +%s) - t0)) s)"
else
	not_ok "SIGSTOP: the stopped worker is found within 10 s"
	diag_file "$T/stop.err"
fi
check "SIGSTOP: it is killed and restarted from its checkpoint" \
    wait_for 10 has_lines "$T/stop.err" \
    "^forkflow: worker 1 (pid $stopped) killed by signal 9; restarting from checkpoint (stage 0, operator [0-9]*): attempt 2, failures in a row 1 of 4\$" 1
wait_bg stop 120
check "SIGSTOP: the job completes (exit status $status)" test "$status" = 0
same "SIGSTOP: the same result" "$T/stop.out"
check "SIGSTOP: no process left" wait_for 5 no_procs "$jd"

lap "refusals, SIGSTOP"

# --- Damaged checkpoint files -------------------------------------------

# slot_gen FILE SLOT: the generation in slot SLOT (0 or 1) of a checkpoint
# file: 512-byte slots, magic[8] version partition job_id generation.
slot_gen() {
	od -An -t u8 -j $(($2 * 512 + 24)) -N 8 "$1" | tr -d ' '
}

# flip FILE OFFSET: flip the low bit of the byte at OFFSET.
flip() {
	_b=$(od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o' $((_b ^ 1)))" |
	    dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}

# crash_job DIR P OP R: run the fast program on DIR until worker P dies on
# record R of operator OP's stage, with no retry: the job stops, with
# checkpoints of that stage in DIR/ckpt.
crash_job() {
		run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M --job-dir "$1" --max-attempts 1 \
	    --inject-crash "$2:$3:$4"
	if [ "$status" = 1 ] && grep -q -e "^forkflow: partition $2 failed" \
	    "$T/err"; then
		return 0
	fi
	diag "crash_job $*: exit status $status:"
	diag_file "$T/err"
	return 1
}

# rerun_damaged DESC DIR: the same command again on DIR gives the result;
# its standard error in $T/err.
rerun_damaged() {
		run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M -v --job-dir "$2"
	if [ "$status" = 0 ] && cmp -s want "$T/out"; then
		ok "$1: exit 0, the same result"
	else
		not_ok "$1: exit 0, the same result"
		diag "exit status $status; standard error:"
		diag_file "$T/err"
	fi
}

resumed_from() {
	sed -n "s/^forkflow: worker $1: resuming stage $2 from checkpoint \\([0-9]*\\) .*/\\1/p" "$T/err"
}

for s in 0 1; do
	if [ "$s" = 0 ]; then
		# Worker 1, at the map "v * 3 + k % 11", about 60 % in.
		crash_job "$T/jc$s" 1 1 400000
		cp=1
	else
		# Worker 2, at the map "v % 1000003", half-way through the
		# groups it sends on.
		crash_job "$T/jc$s" 2 4 100000
		cp=2
	fi
	check "stage $s: a job stopped by a crash in stage $s" \
	    test "$(committed "$T/jc$s/journal")" -eq "$s"
	f=ckpt/$cp
	g0=$(slot_gen "$T/jc$s/$f" 0)
	g1=$(slot_gen "$T/jc$s/$f" 1)
	if [ "$g0" -gt "$g1" ]; then
		new=0
		gnew=$g0
		gold=$g1
	else
		new=1
		gnew=$g1
		gold=$g0
	fi
	check "stage $s: its checkpoint file has two generations ($g0, $g1)" \
	    test "$gold" -ge 1 -a "$gnew" -eq $((gold + 1))

	if [ "$s" = 0 ]; then
		hows="flip cut truncate both"
	else
		hows="flip both"
	fi
	for how in $hows; do
		d=$T/jc$s-$how
		cp -R "$T/jc$s" "$d"
		case $how in
		flip)
			# A bit of its cursor, in the newest slot.
			flip "$d/$f" $((new * 512 + 56))
			;;
		cut)
			# Slot 1 torn: what is past its first 64 bytes is gone.
			truncate -s $((512 + 64)) "$d/$f"
			;;
		truncate)
			: >"$d/$f"
			;;
		both)
			dd if=/dev/urandom of="$d/$f" bs=1024 count=1 \
			    conv=notrunc 2>/dev/null
			;;
		esac
		desc="stage $s, checkpoint $how"
		rerun_damaged "$desc" "$d"
		got=$(resumed_from "$cp" "$s")
		case $how in
		flip)	want_g=$gold ;;
		cut)	want_g=$g0 ;;
		*)	want_g= ;;
		esac
		from="the start of the stage"
		[ -z "$want_g" ] || from="checkpoint $want_g"
		if [ "$got" = "$want_g" ]; then
			ok "$desc: worker $cp resumes from $from"
		else
			not_ok "$desc: worker $cp resumes from $from"
			diag "resumed from: '${got}'"
			diag_file "$T/err"
		fi
	done
done

lap "damaged checkpoints"

# --- A crash between a stage's output in place and its checkpoint ----------

# The worker dies once stage S's output has its final name and before its
# checkpoint says so; the file is then cut short.  A part has no sum to be
# checked against (it was never published): the stage is done again, never
# taken as it is.  A run file checks itself.
for s in 0 2; do
	d=$T/jw$s
	run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M \
	    --job-dir "$d" --max-attempts 1 --inject-crash "1:commit:$s"
	desc="crash after stage $s's output is in place"
	check "$desc: exit 1, $s stages committed" \
	    test "$status" = 1 -a "$(committed "$d/journal")" -eq "$s"
	f=$d/out/part-00001
	[ "$s" = 2 ] || f=$d/s0/w1.data
	if [ -f "$f" ]; then
		truncate -s "$(($(wc -c <"$f") / 2))" "$f"
	else
		diag "$desc: no $f"
	fi
	run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M \
	    --job-dir "$d"
	check_status "$desc, then cut short: exit status" 0
	same "$desc, then cut short: the same result" "$T/out"
done
# With -o, and the worker forked again by the same run.
rm -rf resw
run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M \
    --max-attempts 2 --inject-crash "1:commit:2" -o resw
check_status "crash after the last stage's part is in place, -o: exit status" 0
cat resw/part-* 2>/dev/null | sort_kv - >got.resw
same "crash after the last stage's part is in place, -o: the same result" \
    got.resw

lap "crashes at a commit"

# --- A record that crashes its worker on every attempt ------------------

# About the 1235th record of worker 1 of 2 in small.csv (the lines that
# start in the second half of its bytes): the first from there that the
# program's filter (v % 13 != 0) keeps and without which awk's result
# differs, so that skipping it shows.  About one record in seventy changes
# nothing (its group's value loses to another's), hence the loop.
R=1234
while :; do
	awk -v R="$R" 'NR == FNR { total += length($0) + 1; next }
	FNR == 1 { lo = int(total / 2) }
	{ s = off; off += length($0) + 1 }
	s >= lo { if (i >= R && $2 % 13 != 0) { print i, FNR, $1, $2; exit }
	    i++ }' FS=, small.csv small.csv >rec.info
	read -r rec line key val <rec.info
	awk -v n="$line" 'NR != n' small.csv >small.skip
	rec_ref small.skip >want.skip
	cmp -s want.small want.skip || break
	[ "$rec" -lt 1300 ] || bail_out "no record from 1234 on changes the result"
	R=$((rec + 1))
done
where="key $key, value $val (small.csv:$line)"

run_prog run "$fast" -i small.csv -p 2 --inject-crash "1:1:$rec:99"
check_status "a crash on every attempt: exit status" 1
check_err "a crash on every attempt: attempt 4 was tried" \
    "^forkflow: worker 1 (pid [0-9]*) killed by signal 9; restarting from checkpoint (stage 0, operator 1): attempt 4, failures in a row 3 of 4\$"
if grep -q -F -e "forkflow: partition 1 failed in stage 0, operator 1 (map \"v * 3 + k % 11\"" "$T/err" &&
    grep -q -F -e "): worker killed by signal 9; gave up after 4 failures in a row (attempt 4); record being processed: $where" "$T/err"; then
	ok "a crash on every attempt: the message names partition, stage, operator, signal, attempts and $where"
else
	not_ok "a crash on every attempt: the message names partition, stage, operator, signal, attempts and $where"
	diag_file "$T/err"
fi
kept=$(kept_dir)
check "a crash on every attempt: the job directory is kept" \
    test -n "$kept" -a -f "$kept/journal"
[ -z "$kept" ] || rm -rf "$kept"
check "a crash on every attempt: no process left" \
    wait_for 5 no_procs "$fast -i small.csv -p 2"

jd=$T/jd-skip
run_prog run "$fast" -i small.csv -p 2 --inject-crash "1:1:$rec:99" \
    --skip-bad-records --keep --job-dir "$jd"
check_status "--skip-bad-records: exit status" 0
check_err "--skip-bad-records: the record is skipped" \
    "^forkflow: record $rec of stage 0 ($where) crashed worker 1 twice; skipping it\$"
check_err "--skip-bad-records: the summary lists it" \
    "^  partition 1 stage 0 record $rec: $where\$"
echo "partition 1 stage 0 record $rec: $where" >skipped.want
check_file "--skip-bad-records: JOBDIR/skipped lists it" skipped.want \
    "$jd/skipped"
check_file "--skip-bad-records: the result without that record" want.skip \
    "$T/out"
check "--skip-bad-records: that record changes the result" \
    test -n "$(cmp want.small want.skip 2>&1)"

lap "crash on one record"

# --- A full disk ---------------------------------------------------------

mkdir full
if mount -t tmpfs -o size=1m tmpfs "$T/full" 2>/dev/null; then
	at_exit "umount '$T/full' 2>/dev/null"
		run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M --job-dir "$T/full/jd"
	check_status "full disk as job directory: exit status" 1
	check_err "full disk as job directory: the error says so" \
	    "No space left on device"
	check_file "full disk as job directory: nothing on standard output" \
	    /dev/null "$T/out"
	check "full disk as job directory: no process left" \
	    wait_for 5 no_procs "$T/full/jd"
	rm -rf "$T/full/jd"
		run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M -o "$T/full/res"
	check_status "full disk as output: exit status" 1
	check_err "full disk as output: the error says so" \
	    "No space left on device"
	check "full disk as output: no output folder, no _SUCCESS" \
	    test ! -e "$T/full/res" -a ! -e "$T/full/res/_SUCCESS"
	check "full disk as output: no temporary folder left" \
	    test -z "$(ls -A "$T/full" | grep -e '^\.res\.forkflow-')"
	check_file "full disk as output: nothing on standard output" \
	    /dev/null "$T/out"
	# The job directory it made in $TMPDIR is kept, to resume.
	rm -rf "$T"/tmp/forkflow.*
else
	for d in "job directory: exit status" "job directory: the error" \
	    "job directory: nothing on standard output" \
	    "job directory: no process left" "output: exit status" \
	    "output: the error" "output: no output folder" \
	    "output: no temporary folder" "output: nothing on standard output"; do
		skip "full disk as $d" "cannot mount a tmpfs"
	done
fi

lap "full disk"

# --- SIGINT ------------------------------------------------------------------

start_bg int run "$slow" -i in.csv -p 3 --checkpoint-interval 1M -v
sup=$bg_pid
if wait_for 60 has_lines "$T/int.err" '^forkflow: stage 0 committed$' 1; then
	kill -INT "$sup"
fi
wait_bg int 60
check "SIGINT: exit status 1 ($status)" test "$status" = 1
hint=$(sed -n 's/^forkflow: interrupted by signal 2; to resume, run \(.*\)$/\1/p' \
    "$T/int.err")
# getopt_long may have put the options first: any order will do, with the
# program, the same options and the job directory.
case " $hint " in
" forkflow run "*" $slow "*"--job-dir $T/tmp/forkflow."*)
	ok "SIGINT: the message says how to resume"
	;;
*)
	not_ok "SIGINT: the message says how to resume"
	diag_file "$T/int.err"
	;;
esac
jd=${hint##* }
check "SIGINT: the job directory is kept" test -f "$jd/journal"
check "SIGINT: no process left" wait_for 5 no_procs "$slow"
# shellcheck disable=SC2086 # split the command into its words
set -- ${hint#forkflow }
run_prog "$@"
check_status "SIGINT: the command it gives: exit status" 0
same "SIGINT: the command it gives: the same result" "$T/out"
check_err "SIGINT: the command it gives resumes from stage 1" \
    "^forkflow: resuming the job in $jd from stage 1\$"
rm -rf "$jd"

lap "SIGINT"

# --- --chaos -----------------------------------------------------------------

# The fast job checkpoints every few hundredths of a second, so that a
# worker makes progress between two kills (0.15 s apart on average for
# one worker, when all 3 are busy).  The kills of --chaos are not the
# partition's failures: with the default --max-attempts the job completes.
run_prog run "$fast" -i in.csv -p 3 --checkpoint-interval 1M --chaos 0.05 -vv
if [ "$status" = 0 ] && cmp -s want "$T/out"; then
	ok "--chaos 0.05: the job completes with the same result"
else
	not_ok "--chaos 0.05: the job completes with the same result"
	diag "exit status $status; standard error:"
	grep -v -e ': chaos: ' -e 'restarting from' -e ': checkpoint ' \
	    -e 'forked (pid' -e 'resuming stage' "$T/err" >"$T/diag"
	diag_file "$T/diag"
	kept=$(kept_dir)
	[ -z "$kept" ] || rm -rf "$kept"
fi
kills=$(count_lines "$T/err" '^forkflow: chaos: killing worker')
check "--chaos 0.05: workers were killed ($kills) and restarted" \
    test "$kills" -gt 0 -a "$(count_lines "$T/err" 'restarting from checkpoint')" -gt 0
if pids_named "$T/err"; then
	ok "--chaos 0.05: each restart line names the process that died"
else
	not_ok "--chaos 0.05: each restart line names the process that died"
	diag_file "$T/diag"
fi
lap "chaos"
check_no_jobdirs "no job directory left in TMPDIR"

diag "t-recovery.sh: $(($(date +%s) - t_start)) s"
