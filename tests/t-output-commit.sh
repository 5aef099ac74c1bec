#!/bin/sh
# An output folder is committed whole: a reader sees nothing or everything.
# Two jobs started at once on one -o folder, 20 times: exactly one exits 0,
# and the folder holds exactly its result; the other exits 1 saying so, and
# keeps its result, whole, in its job directory.  --force over an old
# result with the supervisor killed at a random moment, from its start to
# after its end, or once the journal has the last stage committed, 20
# times: the folder holds the old result or the new one, whole, and the
# same command run again exits 0, with the new result in the folder and no
# temporary folder beside it.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 11

cd "$T" || bail_out "cannot cd to $T"
rand_seed "${FORKFLOW_SEED:-$$}"
diag "seed ${FORKFLOW_SEED:-$$} (FORKFLOW_SEED)"

echo '{"operations": [{"operator": "map", "expr": "v"}]}' >id.json
echo '{"operations": [{"operator": "map", "expr": "0 - v"}]}' >neg.json
# Half a second of work or so on two partitions, and a tenth or so.
awk 'BEGIN { for (i = 0; i < 1500000; i++) print i % 1000 "," i }' >big.csv
head -n 300000 big.csv >small.csv

# ms: milliseconds since the epoch (whole seconds without GNU date).
ms() {
	_ms=$(date +%s%N 2>/dev/null)
	case $_ms in
	*[!0-9]*|'')	echo $(($(date +%s) * 1000)) ;;
	*)		echo $((_ms / 1000000)) ;;
	esac
}

# tree DIR: what DIR holds, a line per file, _SUCCESS without its contents
# (a run's token), a part with the sum of its bytes.
tree() {
	(cd "$1" 2>/dev/null && ls -A | while read -r _f; do
		case $_f in
		_SUCCESS)	echo "$_f" ;;
		*)		echo "$_f $(cksum <"$_f")" ;;
		esac
	done)
}

# The results of each program, to standard output and as a folder.
for p in id neg; do
	run_prog run -q "$p.json" -i small.csv -p 2
	cp "$T/out" "$p.want"
	run_prog run -q "$p.json" -i small.csv -p 2 -o "$p.small"
	tree "$p.small" >"$p.stree"
	cat "$p.small"/part-* | sort_kv - >"$p.got"
	check_file "$p: the parts hold what standard output has" "$p.want" \
	    "$p.got"
	t0=$(ms)
	run_prog run -q "$p.json" -i big.csv -p 2 -o "$p.res"
	took=$(($(ms) - t0))
	tree "$p.res" >"$p.tree"
done

# beside: what the folder of res holds beside it (a temporary folder).
beside() {
	ls -A | grep -e '^\.res\.'
}

# --- Two jobs on one folder ---------------------------------------------

bad_win=0 bad_res=0 bad_lose=0 bad_kept=0 bad_left=0
trial=0
while [ "$trial" -lt 20 ]; do
	trial=$((trial + 1))
	rm -rf res jda jdb
	(
		st=0
		"$FORKFLOW" run -q id.json -i small.csv -p 2 -o res \
		    --job-dir jda >a.out 2>a.err || st=$?
		echo "$st" >a.st
	) &
	(
		st=0
		"$FORKFLOW" run -q neg.json -i small.csv -p 2 -o res \
		    --job-dir jdb >b.out 2>b.err || st=$?
		echo "$st" >b.st
	) &
	wait
	sa=$(cat a.st) sb=$(cat b.st)
	case $sa$sb in
	01)	win=id lose=neg ljd=jdb lerr=b.err ;;
	10)	win=neg lose=id ljd=jda lerr=a.err ;;
	*)
		bad_win=$((bad_win + 1))
		diag "trial $trial: exit statuses $sa and $sb"
		diag_file a.err
		diag_file b.err
		continue
		;;
	esac
	tree res >got.tree
	if ! cmp -s "$win.stree" got.tree; then
		bad_res=$((bad_res + 1))
		diag "trial $trial: res is not $win's result"
	fi
	if ! grep -q -F -e "forkflow: res: another job wrote its output there first; this job's result is kept in $ljd/output" \
	    "$lerr"; then
		bad_lose=$((bad_lose + 1))
		diag "trial $trial: the loser, $lose, said:"
		diag_file "$lerr"
	fi
	tree "$ljd/output" >got.tree
	if ! cmp -s "$lose.stree" got.tree ||
	    ! grep -q -e '^job [0-9a-f]* run [0-9a-f]*$' "$ljd/output/_SUCCESS"
	then
		bad_kept=$((bad_kept + 1))
		diag "trial $trial: $ljd/output is not $lose's whole result"
	fi
	if [ -n "$(beside)" ]; then
		bad_left=$((bad_left + 1))
		diag "trial $trial: left beside res: $(beside | tr '\n' ' ')"
	fi
done
check "two jobs on one folder: exactly one exits 0, the other 1" \
    test "$bad_win" -eq 0
check "two jobs on one folder: it holds the winner's result, whole" \
    test "$bad_res" -eq 0
check "two jobs on one folder: the loser says so, naming the folder" \
    test "$bad_lose" -eq 0
check "two jobs on one folder: the loser keeps its result in its job directory" \
    test "$bad_kept" -eq 0
check "two jobs on one folder: no temporary folder left" \
    test "$bad_left" -eq 0
lap "two jobs on one folder, 20 times"

# --- --force, the supervisor killed -------------------------------------

# The kills fall from the start of the job to a while after its end, in
# the first 10 trials; in the others, once the journal has the last stage
# committed, just before the output is.
span=$((took * 3 / 2))
[ "$span" -ge 200 ] || span=1000
diag "a job takes $took ms; kills within $span ms"
bad_mix=0 bad_rerun=0 bad_new=0 bad_left=0
n_old=0 n_new=0
trial=0
while [ "$trial" -lt 20 ]; do
	trial=$((trial + 1))
	rm -rf res jd
	cp -R neg.res res
	"$FORKFLOW" run -q id.json -i big.csv -p 2 -o res --force \
	    --job-dir jd >/dev/null 2>kill.err &
	pid=$!
	if [ "$trial" -le 10 ]; then
		rand "$span"
		sleep "$((r / 1000)).$(printf %03d $((r % 1000)))"
		when="after $r ms"
	else
		# As soon as the journal has the last stage committed.
		when="at the last stage's journal line"
		until grep -q -s -e '^stage 0 committed' jd/journal ||
		    ! kill -0 "$pid" 2>/dev/null; do
			:
		done
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	tree res >got.tree
	if cmp -s neg.tree got.tree; then
		n_old=$((n_old + 1))
	elif cmp -s id.tree got.tree; then
		n_new=$((n_new + 1))
	else
		bad_mix=$((bad_mix + 1))
		diag "trial $trial: killed $when: res holds:"
		tree res >"$T/diag"
		diag_file "$T/diag"
	fi
	run_prog run -q id.json -i big.csv -p 2 -o res --force --job-dir jd
	if [ "$status" -ne 0 ]; then
		bad_rerun=$((bad_rerun + 1))
		diag "trial $trial: killed $when: run again: exit" \
		    "status $status"
		diag_file "$T/err"
	fi
	tree res >got.tree
	if ! cmp -s id.tree got.tree; then
		bad_new=$((bad_new + 1))
		diag "trial $trial: killed $when: run again: res is" \
		    "not the new result"
	fi
	if [ -n "$(beside)" ]; then
		bad_left=$((bad_left + 1))
		diag "trial $trial: killed $when: left beside res:" \
		    "$(beside | tr '\n' ' ')"
	fi
done
lap "--force, the supervisor killed, 20 times"
diag "killed: $n_old times with the old result in place, $n_new with the new"
check "--force, killed: the old result or the new one, whole" \
    test "$bad_mix" -eq 0
check "--force, killed, run again: exit 0" test "$bad_rerun" -eq 0
check "--force, killed, run again: the new result" test "$bad_new" -eq 0
check "--force, killed, run again: no temporary folder left" \
    test "$bad_left" -eq 0
