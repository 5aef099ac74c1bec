#!/bin/sh
# forkflow serve (issue 15): the job service and its clients, against
# results computed without it (forkflow run directly, and awk for one):
#
# - 20 jobs submitted at once by two clients, from two folders whose inputs
#   have the same relative names and other contents: each `forkflow wait`
#   prints the bytes `forkflow run` prints for the same program and input;
#   `submit --wait` prints them itself; a program's relative "input"
#   resolves against the program's folder; `status --json` and `jobs
#   --json` give every field of a job;
# - kill -9 of the service at 10 random moments while slow jobs run, each
#   time started again on the same state folder and socket: every job
#   ends once, succeeded, with the right output; none is started twice
#   (attempts 1, one "started" event, one run's counters in its log, never
#   two runs of one job at once, one run process per job, sampled every
#   0.1 s); a client exits 3 while no service listens; no process left;
# - cancel of a running job and of a queued one (--cores 1): "canceled",
#   `wait` exits 1, the running job's processes are gone;
# - as root, a second user (made if missing, removed at the end if so) may
#   not cancel, wait for, or read the log or output of root's job ("job N
#   belongs to uid 0"), through a socket opened to its group with --group;
#   its own job runs as it, and root may read its log;
# - 1,000 malformed requests and more (tests/serve-malformed.py): each
#   answered with "ok": false, the service still up, the same pid, a
#   normal job still right;
# - a run killed is tried again and resumes (2 attempts, the same bytes);
#   a division by zero is tried once; an input changed while its job was
#   queued fails it with exit 2 naming the file; watch prints a block per
#   --interval when not on a terminal;
# - a service killed just after a run's fork, or just after its table
#   says the run started (--inject-kill): the job still runs once;
# - SIGTERM: the service exits 0, and no process of any job is left.
#
# FORKFLOW_SERVE_SEED repeats the random choices.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 62

cd "$T" || bail_out "cannot cd to $T"
seed=${FORKFLOW_SERVE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "seed $seed (FORKFLOW_SERVE_SEED=$seed to repeat)"
rand_seed "$seed"

S=$T/s.sock
C=$T/c.sock


# msleep MS: sleep MS milliseconds (whole seconds where sleep has no
# fractions).
msleep() {
	sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" 2>/dev/null ||
	    sleep $((($1 + 999) / 1000))
}

# jget FILE KEY: the value of KEY in FILE, a flat JSON object printed one
# key a line (status --json); strings without their quotes.
jget() {
	sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\\(.*\\)\$/\\1/p" "$1" |
	    sed -e 's/,$//' -e 's/^"\(.*\)"$/\1/' | head -n 1
}

# jobs_states FILE: "ID STATE" for each job of jobs --json's list.
jobs_states() {
	awk '/^[[:space:]]*"id":/ { id = $2; sub(/,$/, "", id) }
	/^[[:space:]]*"state":/ { s = $2; gsub(/[",]/, "", s); print id, s }' \
	    "$1"
}

# The fields of a job, as the protocol has them.
job_fields="id uid user state program partitions cores attempts submitted
started ended exit_status reason pid jobdir cwd"

# missing_fields FILE N: the fields of a job that FILE does not have N
# times (once for status --json, once a job for jobs --json).
missing_fields() {
	for _f in $job_fields; do
		_n=$(grep -c -e "^[[:space:]]*\"$_f\":" "$1")
		[ "$_n" -eq "$2" ] || printf '%s ' "$_f"
	done
}

# state SOCKET ID: the state of job ID.
state() {
	"$FORKFLOW" status --socket "$1" --json "$2" >"$T/st.json" 2>/dev/null
	jget "$T/st.json" state
}

is_state() {
	[ "$(state "$1" "$2")" = "$3" ]
}

# up SOCKET: the service at SOCKET answers.
up() {
	"$FORKFLOW" jobs --socket "$1" >/dev/null 2>&1
}

# session_procs SID: the processes of session SID (a job's run makes one).
session_procs() {
	ps -eo pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'
}

no_session() {
	[ -z "$(session_procs "$1")" ]
}

# At exit, even after a failure: no sampler, no process of a job left
# (their command lines hold $T; a run leads its own process group).
kill_leftovers() {
	: >"$T/mon.stop"
	[ -z "${mon_pid:-}" ] || kill "$mon_pid" 2>/dev/null
	for _p in $(pgrep -f -- "$T/" 2>/dev/null); do
		kill -KILL -- "-$_p" 2>/dev/null
		kill -KILL "$_p" 2>/dev/null
	done
}
at_exit kill_leftovers

# --- Programs, inputs, and their results without the service -------------

echo '{"operations": [{"operator": "map", "expr": "v * 3"},
 {"operator": "changeKey", "expr": "k % 97"},
 {"operator": "reduce", "function": "SUM"}]}' >prog.json
# The same, made slow by a filler map that gives v back (tests/lib.sh).
cat >heavy.json <<EOF
{"operations": [{"operator": "map", "expr": "v * 3"},
 {"operator": "map", "expr": "$(_rec_filler 600)"},
 {"operator": "changeKey", "expr": "k % 97"},
 {"operator": "reduce", "function": "SUM"}]}
EOF
mkdir c1 c2 pd want got u
n=0
for f in a b c d e; do
	n=$((n + 1))
	rec_pairs $((1500 + n * 700)) $((seed % 1000 + n)) >c1/$f.csv
	rec_pairs $((4000 - n * 500)) $((seed % 1000 + 50 + n)) >c2/$f.csv
done
rec_pairs 400000 $((seed % 1000 + 100)) >s.csv
# A program whose input is relative: its folder's data.csv, not the
# client's.
echo '{"input": "data.csv", "operations": [{"operator": "map", "expr": "v * 3"},
 {"operator": "changeKey", "expr": "k % 97"},
 {"operator": "reduce", "function": "SUM"}]}' >pd/inprog.json
rec_pairs 3000 $((seed % 1000 + 200)) >pd/data.csv
rec_pairs 3000 $((seed % 1000 + 201)) >c1/data.csv

# want_of INPUT P [PROGRAM]: the file of forkflow run's output for PROGRAM
# (prog.json) on INPUT (relative to $T) with -p P, made once.
want_of() {
	_w=$T/want/$(echo "${3:-prog.json}-$1-p$2" | tr '/.' '__')
	if [ ! -f "$_w" ]; then
		(cd "$T" && "$FORKFLOW" run -q "${3:-prog.json}" -i "$1" -p "$2" \
		    >"$_w" 2>"$_w.err") ||
		    diag "forkflow run ${3:-prog.json} -i $1 -p $2 failed"
	fi
	echo "$_w"
}

# awk_ref FILE: prog.json's result on FILE, by awk, sorted.
awk_ref() {
	awk -F, '{ s[($1 + 0) % 97] += ($2 + 0) * 3 }
	END { for (k in s) printf "%d,%d\n", k, s[k] }' "$1" | sort_kv -
}

for f in a b c d e; do
	want_of c1/$f.csv 2 >/dev/null
	want_of c2/$f.csv 2 >/dev/null
done
awk_ref c1/a.csv >awk.a
sort_kv "$(want_of c1/a.csv 2)" >run.a
if [ -s awk.a ] && cmp -s awk.a run.a; then
	ok "reference: forkflow run's result on c1/a.csv is awk's"
else
	not_ok "reference: forkflow run's result on c1/a.csv is awk's"
	diff awk.a run.a | sed -e 's/^/#   /' -e 10q
fi
awk_ref s.csv >awk.s
sort_kv "$(want_of s.csv 2 heavy.json)" >run.s
if [ -s awk.s ] && cmp -s awk.s run.s && cmp -s "$(want_of s.csv 1 heavy.json)" \
    "$(want_of s.csv 2 heavy.json)"; then
	ok "reference: the slow program's result on s.csv is awk's, with -p 1 and 2"
else
	not_ok "reference: the slow program's result on s.csv is awk's, with -p 1 and 2"
fi
(cd "$T" && "$FORKFLOW" run -q pd/inprog.json -p 2 >want/inprog 2>want/inprog.err) ||
    diag "forkflow run pd/inprog.json failed: $(cat want/inprog.err)"
lap "inputs and results without the service"

# --- The service, 20 jobs from two clients ---------------------------------

svc_start() {
	start_bg svc serve --socket "$S" --state-dir "$T/state" --cores 2
	svc_pid=$bg_pid
	wait_for 10 up "$S"
}

if svc_start; then
	ok "the service answers on its socket"
else
	not_ok "the service answers on its socket"
	diag_file "$T/svc.err"
	bail_out "no service to test"
fi
mode=$(stat -c %a "$S" 2>/dev/null)
check "its socket's mode is 600 (it is $mode)" test "$mode" = 600

# client NAME: 10 jobs submitted from $T/NAME, with relative paths; "ID
# INPUT STATUS" lines in $T/NAME.ids.
client() {
	(
		trap - EXIT HUP INT TERM
		cd "$T/$1" || exit 1
		for f in a b c d e e d c b a; do
			st=0
			id=$(tmo 60 "$FORKFLOW" submit --socket ../s.sock \
			    ../prog.json -i "$f.csv" -p 2 2>>"$T/$1.err") ||
			    st=$?
			echo "${id:-none} $1/$f.csv $st" >>"$T/$1.ids"
		done
	) &
}

client c1
p1=$!
client c2
p2=$!
wait "$p1" "$p2"
cat c1.ids c2.ids >ids
bad=$(awk '$1 !~ /^[0-9]+$/ || $3 != 0' ids)
distinct=$(awk '{ print $1 }' ids | sort -u | wc -l)
if [ -z "$bad" ] && [ "$distinct" -eq 20 ]; then
	ok "20 submissions from two clients at once: each exits 0 with a new job number"
else
	not_ok "20 submissions from two clients at once: each exits 0 with a new job number"
	diag "$distinct distinct numbers; wrong: $bad"
	diag_file c1.err
	diag_file c2.err
fi

bad_wait=0 bad_out=0
while read -r id inp st; do
	[ "$st" = 0 ] || continue
	st=0
	tmo 60 "$FORKFLOW" wait --socket "$S" "$id" >"got/$id" 2>"got/$id.err" ||
	    st=$?
	if [ "$st" != 0 ]; then
		bad_wait=$((bad_wait + 1))
		diag "wait $id ($inp): exit $st"
		diag_file "got/$id.err"
	fi
	if ! cmp -s "$(want_of "$inp" 2)" "got/$id"; then
		bad_out=$((bad_out + 1))
		diag "job $id ($inp): not forkflow run's output"
	fi
done <ids
check "forkflow wait of each of the 20 jobs exits 0" test "$bad_wait" -eq 0
check "each prints the bytes forkflow run prints for its input, relative to its client's folder" \
    test "$bad_out" -eq 0 -a "$distinct" -eq 20

st=0
(cd c2 && tmo 60 "$FORKFLOW" submit --socket ../s.sock --wait ../prog.json \
    -i b.csv -p 2 >"$T/sw.out" 2>"$T/sw.err") || st=$?
if [ "$st" = 0 ] && cmp -s "$(want_of c2/b.csv 2)" sw.out; then
	ok "submit --wait exits 0 and prints the job's result"
else
	not_ok "submit --wait exits 0 and prints the job's result"
	diag "exit $st"
	diag_file sw.err
fi

st=0
id=$(cd c1 && tmo 60 "$FORKFLOW" submit --socket ../s.sock ../pd/inprog.json \
    -p 2 2>"$T/ip.err") || st=$?
[ "$st" != 0 ] || tmo 60 "$FORKFLOW" wait --socket "$S" "$id" >ip.out \
    2>>ip.err || st=$?
if [ "$st" = 0 ] && [ -s want/inprog ] && cmp -s want/inprog ip.out; then
	ok "a program's relative input resolves against the program's folder"
else
	not_ok "a program's relative input resolves against the program's folder"
	diag "exit $st"
	diag_file ip.err
fi

"$FORKFLOW" jobs --socket "$S" --all --json >jobs.json 2>jobs.err
jobs_states jobs.json >states
nj=$(wc -l <states)
ns=$(grep -c ' succeeded$' states)
check "jobs --all --json: the 22 jobs, every one succeeded ($ns of $nj)" \
    test "$nj" -eq 22 -a "$ns" -eq 22
first=$(awk 'NR == 1 { print $1 }' ids)
"$FORKFLOW" status --socket "$S" --json "$first" >st1.json 2>st1.err
miss=$(missing_fields st1.json 1)
check "status --json gives every field of a job${miss:+ (missing: $miss)}" \
    test -z "$miss"
miss=$(missing_fields jobs.json "$nj")
check "jobs --json gives every field of each job${miss:+ (missing: $miss)}" \
    test -z "$miss"
got="$(jget st1.json state) $(jget st1.json uid) $(jget st1.json attempts) $(jget st1.json exit_status) $(jget st1.json cwd)"
check "status --json of job $first: succeeded, our uid, 1 attempt, exit 0, the client's folder ($got)" \
    test "$got" = "succeeded $(id -u) 1 0 $T/c1"
lap "20 jobs from two clients"

# --- kill -9 of the service while jobs run -----------------------------------

# A sample every 0.1 s of the runs of the jobs: "run ID PID" for each
# forkflow run whose parent is not a run of the same job, and "double ID"
# when a job has two.
monitor() {
	(
		trap - EXIT HUP INT TERM
		while [ ! -f "$T/mon.stop" ]; do
			ps -ww -eo pid=,ppid=,args= 2>/dev/null | awk -v p="$T/state/jobs/" '
			$4 == "run" && index($0, p) {
				id = substr($0, index($0, p) + length(p))
				sub(/\/.*/, "", id)
				job[$1] = id
				par[$1] = $2
			}
			END {
				for (x in job)
					if (job[par[x]] != job[x]) {
						print "run", job[x], x
						n[job[x]]++
					}
				for (j in n)
					if (n[j] > 1)
						print "double", j
			}'
			msleep 100
		done >"$T/mon.log"
	) &
	mon_pid=$!
}

# running_job: a job of the main service runs.
running_job() {
	pgrep -f -- " run $T/state/jobs/" >/dev/null 2>&1
}

# heavy P: submit the slow program on s.csv with -p P; its number and P
# to kids.
heavy() {
	_st=0
	_id=$(tmo 30 "$FORKFLOW" submit --socket "$S" heavy.json -i s.csv -p "$1" \
	    2>>heavy.err) || _st=$?
	if [ "$_st" = 0 ]; then
		echo "$_id $1" >>kids
	else
		diag "submit of a slow job: exit $_st"
		diag_file heavy.err
	fi
}

: >kids
monitor
for p in 1 2 1 2 2 1 2 1; do
	heavy "$p"
done
bad_kill=0 bad_up=0 bad_down=0 busy=0
trial=0
while [ "$trial" -lt 10 ]; do
	trial=$((trial + 1))
	# Most kills fall while a job runs, the others anywhere (in the
	# grace after a start, say).
	if [ "$trial" -le 8 ]; then
		wait_for 10 running_job
		rand 300
		msleep $((r + 20))
	else
		rand 2500
		msleep $((r + 50))
	fi
	! running_job || busy=$((busy + 1))
	kill -KILL "$svc_pid"
	wait_bg svc 10
	if [ "$status" != 137 ]; then
		bad_kill=$((bad_kill + 1))
		diag "trial $trial: the service's exit status is $status, not 137"
		diag_file svc.err
	fi
	if [ $((trial % 2)) = 1 ]; then
		st=0
		tmo 30 "$FORKFLOW" submit --socket "$S" heavy.json -i s.csv -p 1 \
		    >down.out 2>down.err || st=$?
		if [ "$st" != 3 ]; then
			bad_down=$((bad_down + 1))
			diag "trial $trial: submit with no service: exit $st"
			diag_file down.err
		fi
	fi
	if ! svc_start; then
		bad_up=$((bad_up + 1))
		diag "trial $trial: the service does not answer once started again"
		diag_file svc.err
	fi
	[ $((trial % 2)) = 1 ] || heavy $((trial % 4 / 2 + 1))
done
diag "10 kills, $busy while a job ran"
check "10 kill -9 of the service, each started again: killed, then answering" \
    test "$bad_kill" -eq 0 -a "$bad_up" -eq 0
check "while no service listens, submit exits 3" test "$bad_down" -eq 0
lap "10 kills"

bad_wait=0 bad_out=0
while read -r id p; do
	st=0
	tmo 120 "$FORKFLOW" wait --socket "$S" "$id" >"got/$id" 2>"got/$id.err" ||
	    st=$?
	if [ "$st" != 0 ]; then
		bad_wait=$((bad_wait + 1))
		diag "wait $id: exit $st"
		diag_file "got/$id.err"
	elif ! cmp -s "$(want_of s.csv "$p" heavy.json)" "got/$id"; then
		bad_out=$((bad_out + 1))
		diag "job $id: not forkflow run's output"
	fi
done <kids
: >"$T/mon.stop"
wait "$mon_pid"
mon_pid=
nk=$(wc -l <kids)
"$FORKFLOW" jobs --socket "$S" --all --json >jobs.json 2>jobs.err
jobs_states jobs.json >states
bad=$(awk 'NR == FNR { s[$1] = $2; next } s[$1] != "succeeded" {
	printf "%s:%s ", $1, s[$1] }' states kids)
check "the $nk jobs of the kills all end succeeded${bad:+ (not: $bad)}" \
    test -z "$bad" -a "$nk" -ge 13
check "forkflow wait of each exits 0 and prints forkflow run's bytes" \
    test "$bad_wait" -eq 0 -a "$bad_out" -eq 0
bad=
bad_log=
while read -r id p; do
	"$FORKFLOW" status --socket "$S" --json "$id" >st.json 2>/dev/null
	a=$(jget st.json attempts)
	[ "$a" = 1 ] || bad="$bad $id:$a"
	"$FORKFLOW" logs --socket "$S" "$id" >log 2>/dev/null
	c=$(count_lines log '^forkflow: counters:')
	if [ "$c" != 1 ] || grep -q 'in use by another' log; then
		bad_log="$bad_log $id"
		diag "job $id's log:"
		diag_file log
	fi
done <kids
check "no job was started twice: 1 attempt each${bad:+ (not:$bad)}" test -z "$bad"
check "each job's log has one run's counters, no run refused for a job directory in use" \
    test -z "$bad_log"
if ! command -v "$PYTHON3" >/dev/null 2>&1; then
	skip "the events: one \"started\" and one end per job" "no python3"
else
	st=0
	# shellcheck disable=SC2046 # the numbers, one word each
	"$PYTHON3" - "$T/state/jobs.db" $(awk '{ print $1 }' kids) >events.bad \
	    2>events.err <<'EOF' || st=$?
import sqlite3, sys
try:
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    for job in sys.argv[2:]:
        rows = list(db.execute(
            "SELECT event, detail FROM events WHERE job = ? ORDER BY rowid",
            (int(job),)))
        ev = [r[0] for r in rows]
        # A service killed between a run's fork and its exec: the run
        # never began, and the job is queued again; its start is none.
        never = sum(1 for r in rows if r[0] == "requeued" and
                    r[1] == "its run never began")
        ends = sum(ev.count(e) for e in ("succeeded", "failed", "canceled"))
        if ev.count("started") - never != 1 or ends != 1:
            print("job %s: %s" % (job, " ".join(ev)))
except sqlite3.Error as e:
    print(e, file=sys.stderr)
    sys.exit(3)
EOF
	if [ "$st" = 3 ]; then
		skip "the events: one \"started\" and one end per job" \
		    "the job table is not as expected: $(cat events.err)"
	elif [ "$st" = 0 ] && [ ! -s events.bad ]; then
		ok "the events: one \"started\" and one end per job"
	else
		not_ok "the events: one \"started\" and one end per job"
		diag_file events.bad
		diag_file events.err
	fi
fi
if grep -q '^double' mon.log; then
	not_ok "no two runs of one job at once (sampled every 0.1 s)"
	grep '^double' mon.log | sort -u >diag
	diag_file diag
else
	ok "no two runs of one job at once (sampled every 0.1 s)"
fi
awk '$1 == "run" { print $2, $3 }' mon.log | sort -u |
    awk '{ n[$1]++ } END { for (j in n) if (n[j] > 1) print "job " j ": " n[j] " runs" }' >diag
sampled=$(awk '$1 == "run" { print $2 }' mon.log | sort -u | wc -l)
diag "the sampler saw the runs of $sampled jobs"
if [ ! -s diag ] && [ "$sampled" -gt 0 ]; then
	ok "each job's run was one process, adopted by each new service"
else
	not_ok "each job's run was one process, adopted by each new service"
	diag_file diag
fi
check "no process of a job is left once they ended" \
    wait_for 5 no_procs "$T/state/jobs/"
lap "the jobs of the kills"

# --- Cancel, and another user ---------------------------------------------

tuser=forkflowtest
grp=
made_user=
idu=
root_why=
if [ "$(id -u)" != 0 ]; then
	root_why="not root"
elif ! command -v runuser >/dev/null 2>&1 &&
    ! command -v setpriv >/dev/null 2>&1; then
	root_why="neither runuser nor setpriv"
else
	if ! id "$tuser" >/dev/null 2>&1; then
		# Removed at exit if made, even when the exit comes first.
		made_user=1
		at_exit "kill_leftovers; userdel $tuser 2>/dev/null"
		useradd -M -r -U -d /nonexistent -s /bin/false "$tuser" \
		    2>useradd.err || useradd -M -r "$tuser" 2>>useradd.err
	fi
	if id "$tuser" >/dev/null 2>&1; then
		grp=$(id -gn "$tuser")
		tuid=$(id -u "$tuser")
		# The user reaches the socket through $T, and its own files.
		chmod 711 "$T"
		chmod 755 u
		cp prog.json u/prog.json
		cp c1/a.csv u/in.csv
		cp "$SRCDIR/tests/serve-malformed.py" u/req.py
		chmod 644 u/*
		# The build may be in a folder only root reaches (CI's is
		# mktemp's): the user's commands, and the runs of the user's
		# jobs (the service runs its own binary), use a copy.
		cp "$FORKFLOW" u/forkflow
		chmod 755 u/forkflow
		FORKFLOW=$T/u/forkflow
	else
		root_why="no user $tuser: $(cat useradd.err)"
	fi
fi
[ -z "$made_user" ] || [ -n "$root_why" ] ||
    diag "made the user $tuser (removed at the end)"

# as_user [tmo SECONDS] COMMAND...: COMMAND as $tuser, in $T/u, with a
# temporary folder of its own.
if command -v runuser >/dev/null 2>&1; then
	user_pfx="runuser -u $tuser --"
else
	user_pfx="setpriv --reuid=$tuser --regid=$grp --init-groups --"
fi
as_user() {
	if [ "$1" = tmo ]; then
		_as_t=$2
		shift 2
		# shellcheck disable=SC2086 # user_pfx is words
		(cd "$T/u" && tmo "$_as_t" $user_pfx env TMPDIR=/tmp "$@")
	else
		# shellcheck disable=SC2086 # user_pfx is words
		(cd "$T/u" && $user_pfx env TMPDIR=/tmp "$@")
	fi
}

slow_prog 3000 10
start_bg csvc serve --socket "$C" --state-dir "$T/cstate" --cores 1 \
    ${grp:+--group "$grp"}
csvc_pid=$bg_pid
if ! wait_for 10 up "$C"; then
	diag "the second service does not answer:"
	diag_file csvc.err
fi
ida=$(tmo 30 "$FORKFLOW" submit --socket "$C" "$T/slow.json" -p 1 2>sub.err)
wait_for 20 is_state "$C" "$ida" running
ida_pid=$(jget "$T/st.json" pid)
idb=$(tmo 30 "$FORKFLOW" submit --socket "$C" "$T/slow.json" -p 1 2>>sub.err)
got="$(state "$C" "$ida") $(state "$C" "$idb")"
if [ "$got" = "running queued" ] && [ -n "$ida_pid" ] &&
    [ "$ida_pid" != null ]; then
	ok "--cores 1: a slow job runs (pid $ida_pid), the next one is queued"
else
	not_ok "--cores 1: a slow job runs (pid $ida_pid), the next one is queued"
	diag "states of jobs $ida and $idb: $got"
	diag_file sub.err
	diag_file csvc.err
fi

# refused DESC: the last as_user command exited 1 saying that job A is
# root's.
refused() {
	if [ "$st" = 1 ] && grep -q -e "job $ida belongs to uid 0" ref.err; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit $st; standard error:"
		diag_file ref.err
	fi
}

root_tests="another user cannot cancel root's job
another user cannot read root's job's log
another user cannot wait for root's job
another user cannot read root's job's output
root's job still runs after all that
another user's own job runs and its wait prints its result
its folder is the user's, mode 700
root may read another user's job's log"
if [ -n "$root_why" ]; then
	skip "the socket of --group $tuser is 660 and the group's" "$root_why"
	echo "$root_tests" | while read -r d; do
		skip "$d" "$root_why"
	done
	_tap_n=$((_tap_n + $(echo "$root_tests" | wc -l)))
else
	got=$(stat -c '%a %G' "$C")
	check "the socket of --group $grp is 660 and the group's ($got)" \
	    test "$got" = "660 $grp"
	st=0
	as_user "$FORKFLOW" cancel --socket "$C" "$ida" >ref.out 2>ref.err ||
	    st=$?
	refused "another user cannot cancel root's job"
	st=0
	as_user "$FORKFLOW" logs --socket "$C" "$ida" >ref.out 2>ref.err ||
	    st=$?
	refused "another user cannot read root's job's log"
	st=0
	as_user tmo 10 "$FORKFLOW" wait --socket "$C" "$ida" >ref.out \
	    2>ref.err || st=$?
	refused "another user cannot wait for root's job"
	upy=
	for py in /usr/bin/python3 /usr/local/bin/python3; do
		if [ -x "$py" ] && as_user "$py" -c '' 2>/dev/null; then
			upy=$py
			break
		fi
	done
	if [ -z "$upy" ]; then
		skip "another user cannot read root's job's output" \
		    "no python3 the user may run"
	else
		st=0
		as_user "$upy" req.py "$C" --request \
		    "{\"v\":1,\"op\":\"output\",\"id\":$ida}" >ref.err 2>&1 ||
		    st=$?
		if [ "$st" = 0 ] && grep -q '"ok": *false' ref.err; then
			st=1
		fi
		refused "another user cannot read root's job's output"
	fi
	check "root's job still runs after all that" is_state "$C" "$ida" running
	st=0
	idu=$(as_user "$FORKFLOW" submit --socket "$C" prog.json -i in.csv -p 1 \
	    2>usub.err) || st=$?
	[ "$st" = 0 ] || diag "the user's submit: exit $st: $(cat usub.err)"
fi

st=0
"$FORKFLOW" cancel --socket "$C" "$idb" >cancel.out 2>cancel.err || st=$?
sb=$(state "$C" "$idb")
if [ "$st" = 0 ] && [ "$sb" = canceled ]; then
	ok "cancel of a queued job: exit 0, its state canceled"
else
	not_ok "cancel of a queued job: exit 0, its state canceled"
	diag "exit $st, state $sb"
	diag_file cancel.err
fi
st=0
tmo 20 "$FORKFLOW" wait --socket "$C" "$idb" >wait.out 2>wait.err || st=$?
check "forkflow wait of the canceled queued job exits 1 (exit $st)" test "$st" = 1
# The running job's session, before its cancel: its run, workers, their
# mappers (awk, sh, sleep).
nsess=$(session_procs "$ida_pid" | wc -l)
st=0
"$FORKFLOW" cancel --socket "$C" "$ida" >cancel.out 2>cancel.err || st=$?
wait_for 15 is_state "$C" "$ida" canceled
sa=$(state "$C" "$ida")
if [ "$st" = 0 ] && [ "$sa" = canceled ]; then
	ok "cancel of a running job: exit 0, its state canceled"
else
	not_ok "cancel of a running job: exit 0, its state canceled"
	diag "exit $st, state $sa"
	diag_file cancel.err
fi
st=0
tmo 30 "$FORKFLOW" wait --socket "$C" "$ida" >wait.out 2>wait.err || st=$?
check "forkflow wait of the canceled running job exits 1 (exit $st)" test "$st" = 1
if [ -n "$ida_pid" ] && [ "$ida_pid" != null ] && [ "$nsess" -ge 3 ] &&
    wait_for 5 no_session "$ida_pid" &&
    wait_for 1 no_procs "$T/cstate/jobs/$ida/"; then
	ok "the canceled job's processes are gone (its session had $nsess)"
else
	not_ok "the canceled job's processes are gone"
	diag "its session had $nsess processes before the cancel; now:"
	ps -o pid,pgid,sid,args -s "$ida_pid" >diag 2>&1
	diag_file diag
fi

if [ -z "$root_why" ]; then
	st=0
	[ -n "$idu" ] && as_user tmo 60 "$FORKFLOW" wait --socket "$C" "$idu" \
	    >uwait.out 2>uwait.err || st=$?
	if [ -n "$idu" ] && [ "$st" = 0 ] &&
	    cmp -s "$(want_of c1/a.csv 1)" uwait.out; then
		ok "another user's own job runs and its wait prints its result"
	else
		not_ok "another user's own job runs and its wait prints its result"
		diag "job ${idu:-none}: exit $st"
		diag_file uwait.err
		[ -z "$idu" ] || "$FORKFLOW" logs --socket "$C" "$idu" >diag 2>&1
		diag_file diag
	fi
	got=$(stat -c '%u %a' "$T/cstate/jobs/$idu" 2>&1)
	check "its folder is the user's, mode 700 ($got)" \
	    test "$got" = "$tuid 700"
	st=0
	"$FORKFLOW" logs --socket "$C" "$idu" >ulog.out 2>ulog.err || st=$?
	check "root may read another user's job's log (exit $st)" \
	    test "$st" = 0 -a -s ulog.out
fi
lap "cancel, and another user"

# --- Malformed requests ----------------------------------------------------

checks="notjson:lines that are not JSON (truncated, random bytes, invalid UTF-8, trailing garbage): an error each, the connection kept
nul:lines with a raw NUL byte (after a number or a literal too): an error each
notobject:JSON that is not an object: an error each
version:a missing or other \"v\": an error each
op:a missing, unknown or mistyped \"op\": an error each
submit-fields:each field of submit missing or of a wrong type: an error each
id-fields:the \"id\" of status, cancel, wait, logs, output and jobs' \"all\" missing or wrong: an error each
nesting:deeply nested JSON: answered, the service up
oversized:a line over 1 MiB: an error, then the connection closed; one under 1 MiB answered
prompt-close:a line over 1 MiB: the connection closed within 1 s of the error
closed:connections closed mid-request or before reading their answers, a request a byte at a time, 100 half-sent requests
pipelined:several requests on one connection, good and bad, answered in order
ping:a ping on a new connection answered after each batch, by one pid
count:at least 1000 malformed requests sent"
if ! command -v "$PYTHON3" >/dev/null 2>&1; then
	echo "$checks" | while IFS=: read -r name d; do
		skip "malformed requests: $d" "no python3"
	done
	_tap_n=$((_tap_n + $(echo "$checks" | wc -l)))
else
	tmo 300 "$PYTHON3" "$SRCDIR/tests/serve-malformed.py" "$S" --seed "$seed" \
	    >mal.out 2>mal.err
	while IFS=: read -r name d; do
		if grep -q -x -e "ok $name" mal.out; then
			ok "malformed requests: $d"
		else
			not_ok "malformed requests: $d"
			awk -v n="$name" '
			index($0, "not ok " n ":") == 1 { on = 1; print "# " $0; next }
			on && /^#   also:/ { print; next }
			{ on = 0 }' mal.out | cut -c 1-300
			diag_file mal.err
		fi
	done <<EOF
$checks
EOF
	diag "$(grep '^sent' mal.out)"
fi
mpid=$(sed -n 's/^pid \([0-9]*\)$/\1/p' mal.out 2>/dev/null)
if bg_running svc && up "$S" && [ "$mpid" = "$svc_pid" ]; then
	ok "after them, the service is up, with the same pid ($svc_pid)"
else
	not_ok "after them, the service is up, with the same pid ($svc_pid)"
	diag "pid of the pings: $mpid"
	diag_file svc.err
fi
st=0
(cd c1 && tmo 60 "$FORKFLOW" submit --socket ../s.sock --wait ../prog.json \
    -i c.csv -p 2 >"$T/sw.out" 2>"$T/sw.err") || st=$?
if [ "$st" = 0 ] && cmp -s "$(want_of c1/c.csv 2)" sw.out; then
	ok "and a normal job still runs and prints its result"
else
	not_ok "and a normal job still runs and prints its result"
	diag "exit $st"
	diag_file sw.err
fi
lap "malformed requests"

# --- Retries, failures that are not retried, changed inputs, watch --------

# A run killed (its supervisor, SIGKILL) is tried again, and the attempt
# resumes from the job directory: 2 attempts, the same bytes.  The job
# (three times s.csv, one partition) lasts long enough to be killed as
# soon as it runs.
cat s.csv s.csv s.csv >s3.csv
want_of s3.csv 1 heavy.json >/dev/null
st=0
idr=$(tmo 30 "$FORKFLOW" submit --socket "$S" heavy.json -i s3.csv -p 1 \
    2>rsub.err) || st=$?
wait_for 20 is_state "$S" "$idr" running
rpid=$(jget "$T/st.json" pid)
kst=1
[ -n "$rpid" ] && [ "$rpid" != null ] && kill -KILL "$rpid" 2>/dev/null &&
    kst=0
st=0
tmo 60 "$FORKFLOW" wait --socket "$S" "$idr" >retry.out 2>retry.err || st=$?
"$FORKFLOW" status --socket "$S" --json "$idr" >st.json 2>/dev/null
att=$(jget st.json attempts)
if [ "$kst" = 0 ] && [ "$st" = 0 ] && [ "$att" = 2 ] &&
    cmp -s "$(want_of s3.csv 1 heavy.json)" retry.out; then
	ok "a run killed is tried again: 2 attempts, forkflow run's bytes"
else
	not_ok "a run killed is tried again: 2 attempts, forkflow run's bytes"
	diag "run pid $rpid (kill: $kst), wait exit $st, attempts $att"
	diag_file retry.err
fi

# A record that a function rejects fails every attempt alike: one only.
echo '{"operations": [{"operator": "map", "expr": "v / (v - v)"}]}' \
    >div.json
st=0
tmo 30 "$FORKFLOW" submit --socket "$S" --wait div.json -i c1/a.csv \
    >div.out 2>div.err || st=$?
idd=$(sed -n 's/^forkflow: job \([0-9]*\) failed.*/\1/p' div.err)
"$FORKFLOW" status --socket "$S" --json "${idd:-0}" >st.json 2>/dev/null
att=$(jget st.json attempts)
if [ "$st" = 1 ] && [ "$att" = 1 ] && grep -q "division by zero" div.err; then
	ok "a run-time error no attempt mends: exit 1, one attempt, the reason"
else
	not_ok "a run-time error no attempt mends: exit 1, one attempt, the reason"
	diag "exit $st, attempts $att"
	diag_file div.err
fi

# An input changed between submission and start fails the job at once.
# The cores are taken by a slow job, so that the second one waits.
cp c1/b.csv chg.csv
ids=$(tmo 30 "$FORKFLOW" submit --socket "$S" heavy.json -i s3.csv -p 2 \
    2>>rsub.err)
wait_for 20 is_state "$S" "$ids" running
idc=$(tmo 30 "$FORKFLOW" submit --socket "$S" prog.json -i chg.csv -p 2 \
    2>>rsub.err)
qs=$(state "$S" "$idc")
echo "1,1" >>chg.csv
st=0
tmo 60 "$FORKFLOW" wait --socket "$S" "$idc" >chg.out 2>chg.err || st=$?
if [ "$qs" = queued ] && [ "$st" = 2 ] &&
    grep -q "chg.csv: changed since the job was submitted" chg.err; then
	ok "an input changed while the job was queued: exit 2, naming it"
else
	not_ok "an input changed while the job was queued: exit 2, naming it"
	diag "state when changed: $qs; exit $st"
	diag_file chg.err
fi

# watch, not on a terminal: a block with the time and the table, again
# after --interval.
tmo 5 "$FORKFLOW" watch --socket "$S" --interval 1 >watch.out 2>&1 &
wpid=$!
sleep 2.5
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
nb=$(grep -c '^forkflow watch: ' watch.out)
if [ "$nb" -ge 2 ] && grep -q "^ *$ids  " watch.out &&
    grep -q '^ *ID  STATE' watch.out; then
	ok "watch: a block every --interval ($nb), with the table of jobs"
else
	not_ok "watch: a block every --interval ($nb), with the table of jobs"
	diag_file watch.out
fi
tmo 60 "$FORKFLOW" wait --socket "$S" "$ids" >/dev/null 2>&1
lap "retries, failures, changed inputs, watch"

# --- Killed as a run starts ------------------------------------------------

# --inject-kill: the service dies just after a run's fork (before the table
# has it), or just after the table has it (before the run is told to
# begin).  Started again, it runs the job once: attempts 1, one run's
# counters in its log, no run refused for a job directory in use, one
# "started" not taken back by a "requeued", forkflow run's bytes.
for where in fork said; do
	ks="$T/k-$where.sock"
	st=0
	start_bg ksvc serve --socket "$ks" --state-dir "$T/k-$where" \
	    --inject-kill "$where" &&
	    wait_for 10 up "$ks" &&
	    { tmo 30 "$FORKFLOW" submit --socket "$ks" heavy.json -i s.csv \
	    -p 2 >/dev/null 2>&1; wait_bg ksvc 10; } || st=$?
	kst=$status
	start_bg ksvc serve --socket "$ks" --state-dir "$T/k-$where" &&
	    wait_for 10 up "$ks" || st=$?
	tmo 120 "$FORKFLOW" wait --socket "$ks" 1 >"k-$where.out" 2>&1 || st=$?
	"$FORKFLOW" status --socket "$ks" --json 1 >k.json 2>/dev/null
	a=$(jget k.json attempts)
	"$FORKFLOW" logs --socket "$ks" 1 >k.log 2>/dev/null
	c=$(count_lines k.log '^forkflow: counters:')
	n=$("$PYTHON3" - "$T/k-$where/jobs.db" <<'EOF2' 2>&1
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
ev = [r[0] for r in db.execute("SELECT event FROM events WHERE job = 1")]
print(ev.count("started") - ev.count("requeued"), " ".join(ev))
EOF2
)
	if [ "$st" = 0 ] && [ "$kst" = 137 ] && [ "$a" = 1 ] && [ "$c" = 1 ] &&
	    ! grep -q 'in use by another' k.log &&
	    [ "${n%% *}" = 1 ] && cmp -s "$(want_of s.csv 2 heavy.json)" "k-$where.out"
	then
		ok "killed after a run's $where: the job runs once"
	else
		not_ok "killed after a run's $where: the job runs once"
		diag "exit $st, the killed service's $kst, attempts $a, $c counters, events: $n"
		diag_file k.log
		diag_file ksvc.err
	fi
	kill -TERM "$(cat "$T/ksvc.pid")" 2>/dev/null
	wait_bg ksvc 10
done
lap "killed as a run starts"

# --- The end ---------------------------------------------------------------

kill -TERM "$svc_pid"
wait_bg svc 10
st1=$status
kill -TERM "$csvc_pid"
wait_bg csvc 10
check "SIGTERM: each service exits 0 ($st1 and $status)" \
    test "$st1" = 0 -a "$status" = 0
if wait_for 10 no_procs "$T/c?state"; then
	ok "no process left whose command line holds a state folder"
else
	not_ok "no process left whose command line holds a state folder"
	pgrep -a -f -- "$T/" >diag
	diag_file diag
fi
lap "the end"
