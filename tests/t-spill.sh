#!/bin/sh
# Data larger than the memory budget: with --memory small enough that the
# workers spill many sorted runs and merge them in several passes, a job
# gives the bytes tests/refeval.py computes, on integer and string keys,
# for SUM, COUNT and COLLECT, a streaming reducer and a plain sort; the
# counters say what was spilled.  A worker killed while it spills and
# while it merges resumes to the same bytes; a spill that finds the disk
# full fails the job with a clear error; a worker whose allocation fails
# (ulimit -v) is retried with half its share of memory, and blamed on no
# record.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 31

cd "$T" || bail_out "cannot cd to $T"
refeval=$SRCDIR/tests/refeval.py

# 300 000 pairs over 150 000 integer keys; 50 000 lines of words drawn
# from 200 000.
awk 'BEGIN { srand(11); for (i = 0; i < 300000; i++)
	printf "%d,%d\n", int(rand() * 150000) - 75000, int(rand() * 2000) - 1000 }' >kv.csv
awk 'BEGIN { srand(12); for (i = 0; i < 50000; i++) {
	n = 1 + int(rand() * 12); s = ""
	for (j = 0; j < n; j++) {
		w = int(rand() * 200000); x = ""
		do { x = x sprintf("%c", 97 + w % 26); w = int(w / 26) } while (w > 0)
		s = s (j ? " " : "") x
	}
	print s } }' >words.txt

cat >sum.json <<'EOF'
{"operations": [{"operator": "map", "expr": "v * 2"},
 {"operator": "reduce", "function": "SUM"}]}
EOF
cat >count.json <<'EOF'
{"operations": [{"operator": "filter", "expr": "v % 5 != 0"},
 {"operator": "reduce", "function": "COUNT"}]}
EOF
cat >collect.json <<'EOF'
{"operations": [{"operator": "changeKey", "expr": "k % 20000"},
 {"operator": "map", "expr": "v % 50"},
 {"operator": "reduce", "function": "COLLECT"}]}
EOF
cat >sort.json <<'EOF'
{"operations": [{"operator": "map", "expr": "v + k"}]}
EOF
cat >wc.json <<'EOF'
{"input": {"path": "words.txt", "format": "text"},
 "operations": [{"operator": "flatMap", "function": "WORDS"},
 {"operator": "reduce", "function": "SUM"}]}
EOF
cat >wcmin.json <<'EOF'
{"input": {"path": "words.txt", "format": "text"},
 "operations": [{"operator": "flatMap", "function": "WORDS"},
 {"operator": "map", "expr": "v * 3"},
 {"operator": "reduce", "function": "MAX"}]}
EOF

# COLLECT's reference (refeval.py has no COLLECT): each key's distinct
# values, in order, joined with commas, quoted when more than one.
"$PYTHON3" -c 'import sys
g = {}
for line in open(sys.argv[1]):
    k, v = map(int, line.split(","))
    k = abs(k) % 20000 * (-1 if k < 0 else 1)
    v = abs(v) % 50 * (-1 if v < 0 else 1)
    g.setdefault(k, set()).add(v)
for k in sorted(g):
    vs = ",".join(str(v) for v in sorted(g[k]))
    print("%d,%s" % (k, "\"%s\"" % vs if "," in vs else vs))' kv.csv >collect.want

# Word counts (refeval.py has no flatMap): runs of ASCII letters,
# lower-cased; MAX of three times one is three.
"$PYTHON3" -c 'import re, sys
c = {}
for line in open(sys.argv[1], "rb"):
    for w in re.findall(rb"[A-Za-z]+", line):
        w = w.lower()
        c[w] = c.get(w, 0) + 1
with open("wc.want", "wb") as f, open("wcmin.want", "wb") as g:
    for w in sorted(c):
        f.write(b"%s,%d\n" % (w, c[w]))
        g.write(b"%s,3\n" % w)' words.txt

# spill_case NAME PROGRAM INPUT PARTS PASSES: the job under a 1 MiB budget gives
# the reference's bytes (refeval.py's, or NAME.want), and spilled runs
# that took at least PASSES merge passes (a plain sort's too: its last
# stage's runs are merged into the part with the same fan-in).
spill_case() {
	[ -f "$1.want" ] || "$PYTHON3" "$refeval" eval "$2" $3 >"$1.want" ||
	    bail_out "refeval.py failed on $2"
	status=0
	"$FORKFLOW" run "$2" ${3:+-i "$3"} -p "$4" --memory 1M \
	    --job-dir "jd-$1" --keep >"$1.out" 2>"$T/err" || status=$?
	check_status "$1 under --memory 1M: exit 0" 0
	check_file "$1 under --memory 1M = reference" "$1.want" "$1.out"
	check "$1: the counters show the spills and merge passes" \
	    "$PYTHON3" -c 'import json, sys
c = json.load(open(sys.argv[1]))
runs = sum(s["spilled_runs"] for s in c["stages"])
passes = sum(s["merge_passes"] for s in c["stages"])
sys.exit(0 if runs >= 8 and passes >= int(sys.argv[2]) else 1)' \
	    "jd-$1/counters.json" "$5"
}

spill_case sum sum.json kv.csv 2 2
spill_case count count.json kv.csv 3 2
spill_case collect collect.json kv.csv 2 2
spill_case sort sort.json kv.csv 2 2
spill_case wc wc.json "" 2 2
spill_case wcmin wcmin.json "" 1 2

check_err "the counters block says what was spilled" \
    '^  stage 1 spilled [0-9]* runs, [0-9]* bytes, in [0-9]* merge passes; peak worker memory [0-9]* KiB$'

# A streaming reducer's input: sorted and spilled as any other.
cat >sr.sh <<'EOF'
#!/bin/sh
exec awk -F '\t' '$1 != k { if (NR > 1) print k "\t" n; k = $1; n = 0 } { n += $2 } END { if (NR > 0) print k "\t" n }'
EOF
chmod +x sr.sh
cat >sr.json <<'EOF'
{"operations": [{"operator": "reducer", "command": ["./sr.sh"]}]}
EOF
awk -F, '{ s[$1] += $2 } END { for (k in s) print k "," s[k] }' kv.csv |
    LC_ALL=C sort >sr.want
status=0
"$FORKFLOW" run sr.json -i kv.csv -p 2 --memory 1M -q >sr.out 2>"$T/err" ||
    status=$?
check_status "streaming reducer under --memory 1M: exit 0" 0
# Its keys are text, in the order of their bytes.
check_file "streaming reducer under --memory 1M = awk's sums" sr.want sr.out

# Killed while it writes a spill (of its sink in stage 0, of its reduce
# in stage 1: word count's first stage spills at its checkpoints), and in
# the middle of a merge: the resumed worker drops the torn run and gives
# the same bytes.
for c in sum:spill:2:0 wc:spill:3:1 sum:merge:3000:1; do
	prog=${c%%:*}
	stage=${c##*:}
	at=${c#*:}
	at=${at%:*}
	input=
	[ "$prog" = sum ] && input=kv.csv
	status=0
	"$FORKFLOW" run "$prog.json" ${input:+-i "$input"} -p 2 --memory 1M \
	    --inject-crash "1:$at" >crash.out 2>"$T/err" || status=$?
	check "$prog killed at $at in stage $stage: exit 0, restarted, the same bytes" \
	    test "$status" = 0 -a "$(cmp -s "$prog.want" crash.out && echo y)" = y \
	    -a "$(count_lines "$T/err" "worker 1 .* killed by signal 9; restarting from checkpoint (stage $stage,")" = 1
done

# A checkpoint that names a spill file that is gone (an older checkpoint,
# the newer damaged, from before the spill's last merge; here the file
# removed): the worker does its stage again, the same bytes.
rm -rf jdg
status=0
"$FORKFLOW" run sum.json -i kv.csv -p 2 --memory 1M -q --job-dir jdg \
    --inject-crash 1:merge:3000 --max-attempts 1 >/dev/null 2>"$T/err" ||
    status=$?
rm -f jdg/s1/w1.spill.tmp
status2=0
"$FORKFLOW" run sum.json -i kv.csv -p 2 --memory 1M --job-dir jdg \
    >gone.out 2>"$T/err" || status2=$?
if [ "$status" = 1 ] && [ "$status2" = 0 ] && cmp -s sum.want gone.out &&
    grep -q '^forkflow: s1/w1.spill.tmp: damaged at offset 0, found by worker 1: the stage is done again$' "$T/err"; then
	ok "a spill its checkpoint names gone: the stage done again, the same bytes"
else
	not_ok "a spill its checkpoint names gone: the stage done again, the same bytes"
	diag "exit $status, then $status2"
	diag_file "$T/err"
fi

# A full disk while spilling: a clear error, exit 1, no crash.
mkdir full
if mount -t tmpfs -o size=2m tmpfs full 2>/dev/null; then
	at_exit "umount '$T/full'"
	status=0
	"$FORKFLOW" run sum.json -i kv.csv -p 1 --memory 1M -q \
	    --job-dir full/jd >full.out 2>"$T/err" || status=$?
	check_status "a full disk: exit 1" 1
	check_err "a full disk: says so" 'No space left on device'
	check "a full disk: no worker died of a signal" \
	    test "$(count_lines "$T/err" 'signal')" = 0
else
	skip "a full disk: exit 1" "cannot mount a tmpfs"
	skip "a full disk: says so" "cannot mount a tmpfs"
	skip "a full disk: no worker died of a signal" "cannot mount a tmpfs"
fi

# An allocation fails under ulimit -v with a share too large: each retry
# has half the share, until the table spills soon enough.  A build whose
# sanitizers reserve memory cannot run under the limit: then skipped.
awk 'BEGIN { for (i = 0; i < 3000000; i++) print i "," 1 }' >many.csv
cat >plain.json <<'EOF'
{"operations": [{"operator": "reduce", "function": "SUM"}]}
EOF
status=0
(ulimit -v 200000 && ASAN_OPTIONS=log_path=stderr \
    exec "$FORKFLOW" run plain.json -i kv.csv -q) >/dev/null 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	skip "out of memory: exit 0 with less memory" "cannot run under ulimit -v"
	skip "out of memory: the share halved" "as above"
	skip "out of memory: the result" "as above"
else
	status=0
	(ulimit -v 200000 && exec "$FORKFLOW" run plain.json -i many.csv \
	    -p 1 --memory 1G --max-attempts 8) >"$T/out" 2>"$T/err" ||
	    status=$?
	check_status "out of memory: exit 0 with less memory" 0
	check_err "out of memory: the share halved" \
	    'ran out of memory (an allocation failed); restarting'
	check_file "out of memory: the result" many.csv "$T/out"
fi
