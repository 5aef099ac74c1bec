#!/bin/sh
# Hadoop Streaming: the word count of examples/streaming (sh and awk, and
# Python 3 when there is one) through the mapper and reducer operators and
# through `forkflow streaming` (-file, -combiner, -numReduceTasks 1, 2, 5)
# equals `tr -cs A-Za-z '\n' | tr A-Z a-z | sort | uniq -c` on generated
# text (mixed case, digits, punctuation, CRLF); a mapper process and a
# reducer process killed with SIGKILL mid-run: the same output, and the
# restart logged; a mapper that always exits 1 fails the job with its
# standard error in the message; a reducer gets its input sorted by key;
# the mapreduce_* variables; reporter: lines; a command that does not
# exist; and the usage errors of `forkflow streaming`.

# shellcheck source=tests/lib.sh
# shellcheck disable=SC2018,SC2019 # ASCII letters only, as the mappers
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 76

EX=$SRCDIR/examples/streaming

mkdir "$T/books"
# Text of our own making: awk with a fixed seed.
awk 'BEGIN {
	srand(5);
	split("The a of Mapper REDUCER stream key value line Hadoop " \
	    "word count sort", w, " ");
	for (f = 1; f <= 3; f++) {
		file = sprintf("'"$T"'/books/part%d.txt", f);
		for (l = 0; l < 3000; l++) {
			line = "";
			n = int(rand() * 10);
			for (i = 0; i < n; i++) {
				x = w[1 + int(rand() * 13)];
				r = rand();
				if (r < 0.10) x = toupper(x);
				else if (r < 0.15) x = x "," int(rand() * 100);
				else if (r < 0.20) x = "(" x ")!";
				else if (r < 0.23) x = "it'\''s-" x ";";
				line = line (i ? " " : "") x;
			}
			if (l % 5 == 0) line = line "\r";
			print line > file;
		}
		close(file);
	}
}'

# The expected counts, as TSV (a word, a tab, its count), sorted.
cat "$T"/books/* | tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | grep -v '^$' |
    LC_ALL=C sort | uniq -c | awk '{ print $2 "\t" $1 }' >"$T/wc.want"

# no_proc PATTERN: no process has PATTERN in its command line.
no_proc() {
	! pgrep -f -- "$1" >/dev/null 2>&1
}

# streaming_parts DIR: the lines of DIR's parts, sorted.
streaming_parts() {
	cat "$1"/part-* | LC_ALL=C sort
}

# The operators, with the command as a list of words.
cat >"$T/wc.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command": ["$EX/mapper.sh"]},
  {"operator": "reducer", "command": ["$EX/reducer.sh"]}]}
EOF
for p in 1 5; do
	run_prog run "$T/wc.json" -p "$p"
	check_file "mapper and reducer operators (sh, awk), -p $p" \
	    "$T/wc.want" "$T/out"
done

# The commands as /bin/sh -c strings, with a combiner.
cat >"$T/wcs.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command": "'$EX/mapper.sh'"},
  {"operator": "reducer", "command": "'$EX/reducer.sh'",
   "combiner": "'$EX/reducer.sh'"}]}
EOF
run_prog run "$T/wcs.json" -p 2
check_file "commands run with /bin/sh -c, and a combiner, -p 2" \
    "$T/wc.want" "$T/out"

# A checkpoint ends a mapper's input: one process per interval.
run_prog run "$T/wcs.json" -p 3 --checkpoint-interval 4k
check_file "a checkpoint every 4 KiB: the same counts" "$T/wc.want" "$T/out"

# forkflow streaming, with -file, -combiner and -numReduceTasks.
for n in 1 2 5; do
	run_prog streaming -input "$T/books" -output "$T/st$n" \
	    -mapper mapper.sh -reducer reducer.sh -combiner reducer.sh \
	    -file "$EX/mapper.sh" -file "$EX/reducer.sh" -numReduceTasks "$n" \
	    -D mapreduce.job.name=wc
	streaming_parts "$T/st$n" >"$T/st$n.sorted" 2>/dev/null
	check_file "forkflow streaming -numReduceTasks $n" "$T/wc.want" \
	    "$T/st$n.sorted"
	i=0 want=
	while [ "$i" -lt "$n" ]; do
		want="$want $(printf 'part-%05d' "$i")"
		i=$((i + 1))
	done
	check "forkflow streaming -numReduceTasks $n:$want and _SUCCESS" \
	    test "$(cd "$T/st$n" && echo part-*)" = "${want# }" \
	    -a -f "$T/st$n/_SUCCESS"
done
check "forkflow streaming: -D mapreduce.job.name taken without a warning" \
    test "$(grep -c -e '-D' "$T/err")" -eq 0

# A map-only job: -numReduceTasks 0.  As in Hadoop, each part keeps its
# mapper's order; the parts, one after the other, are the words of the
# books in the order of the files (their names' bytes) and of their lines.
run_prog streaming -input "$T/books" -output "$T/st0" -mapper "$EX/mapper.sh" \
    -reducer "$EX/reducer.sh" -numReduceTasks 0 --partitions 3
cat "$T"/st0/part-* >"$T/st0.got" 2>/dev/null
(LC_ALL=C; export LC_ALL; cat "$T"/books/*) | tr -cs 'A-Za-z' '\n' |
    tr 'A-Z' 'a-z' | grep -v '^$' | sed 's/$/\t1/' >"$T/st0.want"
check_file "-numReduceTasks 0: the mapper's lines, in the mappers' order" \
    "$T/st0.want" "$T/st0.got"
check "-numReduceTasks 0: three parts" test "$(cd "$T/st0" && echo part-*)" = \
    "part-00000 part-00001 part-00002"

# The same word count in Python 3.
if "$PYTHON3" -c 'import sys; sys.exit(sys.version_info[0] != 3)' \
    2>/dev/null; then
	cat >"$T/wcpy.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command": ["$PYTHON3", "$EX/mapper.py"]},
  {"operator": "reducer", "command": ["$PYTHON3", "$EX/reducer.py"]}]}
EOF
	run_prog run "$T/wcpy.json" -p 2
	check_file "mapper and reducer operators (Python 3), -p 2" \
	    "$T/wc.want" "$T/out"
	run_prog streaming -input "$T/books" -output "$T/stpy" \
	    -mapper "$PYTHON3 mapper.py" -reducer "$PYTHON3 reducer.py" \
	    -file "$EX/mapper.py" -file "$EX/reducer.py" -numReduceTasks 3
	streaming_parts "$T/stpy" >"$T/stpy.sorted" 2>/dev/null
	check_file "forkflow streaming (Python 3), -numReduceTasks 3" \
	    "$T/wc.want" "$T/stpy.sorted"
else
	skip "mapper and reducer operators (Python 3)" "no $PYTHON3"
	skip "forkflow streaming (Python 3)" "no $PYTHON3"
fi

# Kill a mapper process, then a reducer process, with SIGKILL mid-run.
# Each is the example's command behind an awk that pauses every N lines,
# so that a run lasts a few seconds, and that leaves a mark when it has
# passed some lines on.
for what in map red; do
	if [ "$what" = map ]; then n=400 cmd=mapper.sh; else n=4000 cmd=reducer.sh; fi
	cat >"$T/slow$what.sh" <<EOF
#!/bin/sh
awk -v mark="\$(dirname "\$0")/$what.started" '{ print }
    NR == $n { printf "" >mark; close(mark) }
    NR % $n == 0 { system("sleep 0.1") }' | "$EX/$cmd"
EOF
	chmod +x "$T/slow$what.sh"
done
cat >"$T/kill.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command": ["$T/slowmap.sh"]},
  {"operator": "reducer", "command": ["$T/slowred.sh"]}]}
EOF

# kill_run WHAT: run kill.json on 2 partitions, and kill one process of
# $T/slowWHAT.sh once it has passed some lines on; $status, $T/out, $T/err.
kill_run() {
	rm -f "$T/$1.started"
	"$FORKFLOW" run -p 2 "$T/kill.json" </dev/null >"$T/out" 2>"$T/err" &
	_kpid=$!
	if wait_for 30 test -f "$T/$1.started"; then
		_victim=$(pgrep -f "$T/slow$1.sh" | head -n 1)
		if [ -n "$_victim" ]; then
			kill -KILL "$_victim"
		else
			diag "no process of slow$1.sh to kill"
		fi
	else
		diag "slow$1.sh never started"
	fi
	status=0
	wait "$_kpid" || status=$?
}

kill_run map
check_status "mapper killed with SIGKILL: exit status 0" 0
check_file "mapper killed with SIGKILL: the same output" "$T/wc.want" "$T/out"
check_err "mapper killed with SIGKILL: the log says so" \
    'mapper killed by signal 9'
check_err "mapper killed with SIGKILL: the worker is restarted" \
    'worker [01] (pid [0-9]*) exited with status 1; restarting from checkpoint (stage 0, operator 0): attempt 2, failures in a row 1 of 4'

kill_run red
check_status "reducer killed with SIGKILL: exit status 0" 0
check_file "reducer killed with SIGKILL: the same output" "$T/wc.want" "$T/out"
check_err "reducer killed with SIGKILL: the log says so" \
    'reducer killed by signal 9'
check_err "reducer killed with SIGKILL: the worker is restarted" \
    'worker [01] (pid [0-9]*) exited with status 1; restarting from checkpoint (stage 1, operator 1): attempt 2, failures in a row 1 of 4'
check "no process of the commands is left" wait_for 10 no_proc "$T/slow"

# A mapper that exits 1 on every attempt: the job fails, and the message
# has its last ten lines of standard error.
cat >"$T/fail.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "operations": [
  {"operator": "mapper", "command":
   "cat >/dev/null; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo \"oops \$i\" >&2; done; exit 1"}]}
EOF
run_prog run "$T/fail.json" -p 1 --max-attempts 2 --job-dir "$T/jfail"
check_status "a mapper that always exits 1: exit status 1" 1
check_err "a mapper that always exits 1: restarted once" \
    'restarting from checkpoint (stage 0, operator 0): attempt 2, failures in a row 1 of 2'
check_err "a mapper that always exits 1: its standard error in the message" \
    '^forkflow: partition 0 failed in stage 0, operator 0 (mapper ".*" (.*fail.json:3:3)): worker exited with status 1; gave up after 2 failures in a row (attempt 2); .*: mapper exited with status 1; its last standard error: oops 3 | oops 4 | oops 5 | oops 6 | oops 7 | oops 8 | oops 9 | oops 10 | oops 11 | oops 12$'

# A combiner that fails: the message names it.
cat >"$T/comb.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "operations": [
  {"operator": "mapper", "command": ["$EX/mapper.sh"]},
  {"operator": "reducer", "command": ["$EX/reducer.sh"],
   "combiner": "cat >/dev/null; echo no combining >&2; exit 3"}]}
EOF
run_prog run "$T/comb.json" -p 1 --max-attempts 1 --job-dir "$T/jcomb"
check_status "a combiner that exits 3: exit status 1" 1
check_err "a combiner that exits 3: the message names the combiner" \
    'combiner.*exited with status 3; its last standard error: no combining$'

# A command that does not exist.
cat >"$T/nx.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "operations": [
  {"operator": "mapper", "command": ["no-such-command-$$", "-x"]}]}
EOF
run_prog run "$T/nx.json" -p 1 --max-attempts 1 --job-dir "$T/jnx"
check_status "a command that does not exist: exit status 1" 1
check_err "a command that does not exist: says so" \
    "mapper \"no-such-command-$$ -x\" (.*nx.json:3:3)): worker exited with status 1; gave up after 1 failure in a row (attempt 1); .*: mapper exited with status 127; its last standard error: cannot run no-such-command-$$: No such file or directory\$"

# A reducer gets its input sorted by key, bytewise: this one checks, and
# fails the job otherwise.  The mapper keeps upper case, so that bytewise
# order matters.
cat >"$T/casemap.sh" <<'EOF'
#!/bin/sh
tr -cs 'A-Za-z' '\n' | awk 'NF { print $0 "\t1" }'
EOF
cat >"$T/checkred.sh" <<'EOF'
#!/bin/sh
LC_ALL=C awk -F '\t' '
    NR > 1 && ($1 "") < (k "") { print "unsorted: " k " before " $1 >"/dev/stderr"; bad = 1; exit 1 }
    NR > 1 && $1 != k { print k "\t" n; n = 0 }
    { k = $1; n += $2 }
    END { if (NR > 0 && !bad) print k "\t" n }'
EOF
chmod +x "$T/casemap.sh" "$T/checkred.sh"
cat >"$T/sorted.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command": ["$T/casemap.sh"]},
  {"operator": "reducer", "command": ["$T/checkred.sh"]}]}
EOF
cat "$T"/books/* | tr -cs 'A-Za-z' '\n' | grep -v '^$' | LC_ALL=C sort |
    uniq -c | awk '{ print $2 "\t" $1 }' >"$T/sorted.want"
run_prog run "$T/sorted.json" -p 3 --max-attempts 1 --job-dir "$T/jsorted"
check_status "a reducer that checks its input is sorted: it is" 0
check_file "a reducer that checks its input is sorted: counts" \
    "$T/sorted.want" "$T/out"

# The variables Hadoop sets.  Two files of one line, on two partitions:
# each mapper reads one file.
mkdir "$T/two"
echo alpha >"$T/two/a.txt"
echo bravo >"$T/two/b.txt"
cat >"$T/envmap.sh" <<'EOF'
#!/bin/sh
read -r line
printf 'm %s\t%s %s %s %s %s %s\n' "$line" "$mapreduce_task_partition" \
    "$mapreduce_task_ismap" "$mapreduce_job_maps" "$mapreduce_job_reduces" \
    "$mapreduce_task_id" "$mapreduce_task_attempt_id"
printf 'f %s\t%s\n' "$line" "$mapreduce_map_input_file"
printf 's %s\t%s %s\n' "$line" "$mapreduce_map_input_start" \
    "$mapreduce_map_input_length"
printf 'j\t%s\n' "$mapreduce_job_id"
EOF
cat >"$T/envred.sh" <<'EOF'
#!/bin/sh
cat
printf 'r %s\t%s %s %s\n' "$mapreduce_task_partition" \
    "$mapreduce_task_ismap" "$mapreduce_task_id" "$mapreduce_task_attempt_id"
EOF
chmod +x "$T/envmap.sh" "$T/envred.sh"
cat >"$T/env.json" <<EOF
{"input": {"path": "$T/two", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command": ["$T/envmap.sh"]},
  {"operator": "reducer", "command": ["$T/envred.sh"]}]}
EOF
run_prog run "$T/env.json" -p 2
job=$(sed -n 's/^j	job_forkflow_\([0-9a-f]\{16\}\)$/\1/p' "$T/out" | sort -u)
check "mapreduce_job_id: job_forkflow_ and 16 hex digits, one per job" \
    test -n "$job" -a "$(grep -c '^j	job_forkflow_' "$T/out")" = 2 -a \
    "$(echo "$job" | wc -l)" = 1
cat >"$T/env.want" <<EOF
m alpha	0 true 2 2 task_forkflow_${job}_m_000000 attempt_forkflow_${job}_m_000000_1
m bravo	1 true 2 2 task_forkflow_${job}_m_000001 attempt_forkflow_${job}_m_000001_1
r 0	false task_forkflow_${job}_r_000000 attempt_forkflow_${job}_r_000000_1
r 1	false task_forkflow_${job}_r_000001 attempt_forkflow_${job}_r_000001_1
EOF
grep -e '^[mr] ' "$T/out" >"$T/env.got"
check_file "mapreduce_task_partition, _ismap, _task_id and others" \
    "$T/env.want" "$T/env.got"
printf 'f alpha\t%s\nf bravo\t%s\n' "$T/two/a.txt" "$T/two/b.txt" \
    >"$T/file.want"
grep -e '^f ' "$T/out" >"$T/file.got"
check_file "mapreduce_map_input_file: the file the mapper reads" \
    "$T/file.want" "$T/file.got"
printf 's alpha\t0 6\ns bravo\t0 6\n' >"$T/start.want"
grep -e '^s ' "$T/out" >"$T/start.got"
check_file "mapreduce_map_input_start and _length: the byte range it reads" \
    "$T/start.want" "$T/start.got"

# reporter: lines on standard error are status and counters, not warnings,
# and do not break the job.
cat >"$T/rep.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [
  {"operator": "mapper", "command":
   "echo reporter:status:mapping >&2; echo reporter:counter:wc,lines,1 >&2; '$EX/mapper.sh'; echo reporter:status:mapped >&2"},
  {"operator": "reducer", "command":
   "echo reporter:status:reducing >&2; '$EX/reducer.sh'"}]}
EOF
run_prog run "$T/rep.json" -p 2
check_file "reporter: lines: the job runs as without them" "$T/wc.want" \
    "$T/out"
# (The counters block names the operators, commands and all.)
check "reporter: lines: not printed without -v" \
    test "$(grep -c 'worker [0-9]*: .*reporter:' "$T/err")" = 0
run_prog run "$T/rep.json" -p 2 -v
check_err "reporter:status: logged with -v" \
    '^forkflow: worker [01]: status: mapped$'
check_err "reporter:status: of a reducer, logged with -v" \
    '^forkflow: worker [01]: status: reducing$'
# Other lines are passed on, with the worker and the kind of command.
sed 's/reporter:status:mapped/plain words/' "$T/rep.json" >"$T/warn.json"
run_prog run "$T/warn.json" -p 1
check_err "other standard error lines are passed on" \
    '^forkflow: worker 0: mapper: plain words$'

# forkflow streaming without -file: a command runs in the current folder.
mkdir "$T/here"
echo 'one line' >"$T/one.txt"
(cd "$T/here" && "$FORKFLOW" streaming -input ../one.txt -output ../pwd \
    -mapper 'pwd -P') >/dev/null 2>&1
printf '%s\t\n' "$(cd "$T/here" && pwd -P)" >"$T/pwd.want"
cat "$T"/pwd/part-* >"$T/pwd.got" 2>/dev/null
check_file "forkflow streaming without -file: commands run in the current folder" \
    "$T/pwd.want" "$T/pwd.got"

# forkflow streaming: usage errors.
run_prog streaming -input "$T/books" -output "$T/nomap" -reducer cat
check_status "forkflow streaming without -mapper: exit status 2" 2
check_err "forkflow streaming without -mapper: says what is needed" \
    '^forkflow: streaming needs -input, -output and -mapper$'
check "forkflow streaming without -mapper: no output" test ! -e "$T/nomap"
run_prog streaming -input "$T/books" -output "$T/st1" -mapper cat
check_status "forkflow streaming, -output exists: exit status 2" 2
check_err "forkflow streaming, -output exists: says so" \
    "st1: output exists"
streaming_parts "$T/st1" >"$T/st1.after" 2>/dev/null
check_file "forkflow streaming, -output exists: left as it was" \
    "$T/wc.want" "$T/st1.after"
run_prog streaming -input "$T/books" -output "$T/bad" -mapper cat -nosuch x
check_status "forkflow streaming, an unknown option: exit status 2" 2

# A folder of many files: one mapper process per worker reads them all in
# a row, not one per file.  Each process reports itself with a counter.
mkdir "$T/many"
i=0
while [ "$i" -lt 40 ]; do
	sed -n "$((i * 20 + 1)),$((i * 20 + 20))p" "$T/books/part1.txt" \
	    >"$T/many/f$i.txt"
	i=$((i + 1))
done
cat "$T"/many/* | tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | grep -v '^$' |
    LC_ALL=C sort | uniq -c | awk '{ print $2 "\t" $1 }' >"$T/many.want"
run_prog streaming -input "$T/many" -output "$T/manyout" \
    -mapper "echo reporter:counter:t,mappers,1 >&2; $EX/mapper.sh" \
    -reducer "$EX/reducer.sh" -numReduceTasks 2
check_status "40 files, 2 workers: exit status" 0
check_err "40 files, 2 workers: 2 mapper processes" '^    t,mappers	2$'
streaming_parts "$T/manyout" >"$T/many.got"
check_file "40 files, 2 workers: the counts" "$T/many.want" "$T/many.got"

# Per-task logs: every line of the commands' standard error, reporter:
# lines too, in JOBDIR/logs, one file per stage, partition and attempt;
# -q keeps them off the terminal; forkflow logs prints them in order.
printf 'a\nb\nc\nd\n' >"$T/four.txt"
cat >"$T/chatty.json" <<EOF
{"input": {"path": "$T/four.txt", "format": "text"},
 "output": {"format": "tsv"},
 "operations": [{"operator": "mapper", "command":
   "echo said-\$mapreduce_task_partition >&2; echo reporter:status:busy >&2; cat"},
  {"operator": "reducer", "command": "echo reduced >&2; cat"}]}
EOF
run_prog run "$T/chatty.json" -p 2 -q --job-dir "$T/jdlog" --keep
check_status "logs: exit status" 0
check "logs: -q keeps the commands' lines off the terminal" \
    test "$(count_lines "$T/err" 'said-\|reduced')" = 0
for s in 0 1; do
	for p in 0 1; do
		[ "$s$p" = 00 ] || echo
		echo "==> stage $s, partition $p, attempt 1 ($T/jdlog/logs/s$s-p$p-a1) <=="
		if [ "$s" = 0 ]; then
			printf 'said-%s\nreporter:status:busy\n' "$p"
		else
			echo reduced
		fi
	done
done >"$T/logs.want"
run_prog logs "$T/jdlog"
check_file "logs: every task's lines, in order" "$T/logs.want" "$T/out"
sed -n '/partition 1,/,/^$/p' "$T/logs.want" | sed '/^$/d' |
    awk 'NR > 1 && /^==>/ { print "" } { print }' >"$T/logs1.want"
run_prog logs "$T/jdlog" 1
check_file "logs PARTITION: that partition's" "$T/logs1.want" "$T/out"
run_prog logs "$T/jdlog" 2
check_status "logs: a partition the job has not: exit 2" 2
run_prog logs "$T/nothere"
check_status "logs: no job there: exit 2" 2
rm -rf "$T/jdlog"
run_prog run "$T/chatty.json" -p 2
check "logs: without -q, the lines are on the terminal too" \
    test "$(count_lines "$T/err" 'mapper: said-')" = 2

# -reducer NONE is Hadoop's map-only job, no command named NONE.
run_prog streaming -input "$T/books/part1.txt" -output "$T/none" \
    -mapper cat -reducer NONE -numReduceTasks 1 -q
check_status "-reducer NONE: exit status" 0
check "-reducer NONE: the job is map-only" \
    test "$(cat "$T"/none/part-* | wc -l)" = 3000
check "-reducer NONE: no command named NONE ran" \
    test "$(count_lines "$T/err" NONE)" = 0

# The counters of a reducer with a combiner: the combiner has its own row.
run_prog streaming -input "$T/books" -output "$T/cnt" \
    -mapper "$EX/mapper.sh" -reducer "$EX/reducer.sh" \
    -combiner "$EX/reducer.sh" -numReduceTasks 2
lines=$(cat "$T"/cnt/part-* | wc -l)
check_err "a reducer with a combiner: the reducer's row counts its lines" \
    "^  1  *[0-9][0-9]*  *$lines  reducer"
check_err "a reducer with a combiner: the combiner has a row" \
    "^  *[0-9][0-9]*  *[0-9][0-9]*  its combiner\$"

# Interrupted, then resumed by the command it prints: the same bytes.  Its
# mappers wait at their end until $T/go exists, so the job cannot end
# before it is interrupted.
rm -rf "$T/res" "$T/go"
start_bg res streaming -input "$T/books" -output "$T/res" \
    -mapper "$EX/mapper.sh; until test -e $T/go; do sleep 0.1; done" \
    -reducer "$EX/reducer.sh" -numReduceTasks 2 --checkpoint-interval 16k
wait_for 20 grep -q '"stage_start"' "$TMPDIR"/forkflow.*/events.jsonl
kill -INT "$bg_pid"
wait_bg res 30
check_status "streaming, interrupted: exit status 1" 1
hint=$(sed -n 's/^forkflow: interrupted by signal 2; to resume, run //p' \
    "$T/res.err")
case $hint in
"forkflow streaming "*" --job-dir "*)
	ok "streaming, interrupted: the resume command is a streaming one" ;;
*)
	not_ok "streaming, interrupted: the resume command is a streaming one"
	diag_file "$T/res.err" ;;
esac
jd=${hint##* --job-dir }
check "streaming, interrupted: its program is in the job directory" \
    test -f "$jd/streaming.json"
: >"$T/go"
# The command it printed, quotes and all, as a shell takes it.
status=0
eval "\"\$FORKFLOW\" ${hint#forkflow }" </dev/null >"$T/out" 2>"$T/err" ||
    status=$?
check_status "streaming, resumed: exit status" 0
streaming_parts "$T/res" >"$T/res.got"
check_file "streaming, resumed: the same counts" "$T/wc.want" "$T/res.got"
rm -rf "$jd"

# Control-C in a terminal signals the whole process group: the job is
# interrupted, and no command is taken to have crashed of it.
cat >"$T/slowmap.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "operations": [{"operator": "mapper", "command":
   "trap 'echo INT >>$T/sigint' INT; sleep 30 & wait; cat"},
  {"operator": "reducer", "command": "cat"}]}
EOF
setsid -w "$FORKFLOW" run "$T/slowmap.json" --job-dir "$T/jdint" -p 2 \
    </dev/null >"$T/out" 2>"$T/err" &
ff=$!
wait_for 20 grep -q -s '"stage_start"' "$T/jdint/events.jsonl"
pg=$(ps -o pgid= -p "$(cat "$T/jdint/lock")" | tr -d ' ')
kill -INT "-$pg"
status=0
wait "$ff" || status=$?
check_status "Control-C: exit status 1" 1
check_err "Control-C: an interruption" '^forkflow: interrupted by signal 2; to resume'
check "Control-C: no worker taken to have crashed" \
    test "$(count_lines "$T/jdint/events.jsonl" '"cause":"crash"')" = 0
check "Control-C: the commands do not get it" test ! -e "$T/sigint"
check "Control-C: the job_end event says interrupted" \
    grep -q '"event":"job_end".*"state":"interrupted"' \
    "$T/jdint/events.jsonl"
pkill -f 'sleep 30' 2>/dev/null

check_no_jobdirs "no job directory left in TMPDIR"
