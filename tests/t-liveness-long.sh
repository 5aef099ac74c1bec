#!/bin/sh
# The liveness cases of real size, for make check-long: a thousand
# partitions on three lines; a streaming job of 60 M lines whose reducer
# is wc; an inverted index of 14 M words at -p 3.  Each with the default
# settings: no worker is killed for want of progress, and the result is
# right.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 9

cd "$T" || bail_out "cannot cd to $T"

printf '1,2\n3,4\n5,6\n' >tiny.csv
"$FORKFLOW" run "$SRCDIR/examples/quickstart.json" -i tiny.csv -p 1 -q \
    >want.tiny 2>/dev/null
run_prog run "$SRCDIR/examples/quickstart.json" -i tiny.csv -p 1000 -q
check_status "1000 partitions on three lines: exit status" 0
check "1000 partitions on three lines: no worker killed" no_kill "$T/err"
check_file "1000 partitions on three lines: the result" want.tiny "$T/out"

mkdir big
yes 3,1500 | head -n 60000000 >big/f
printf '60000000 60000000 480000000\t\n' >want.wc
run_prog streaming -input big -output wc -mapper /bin/cat \
    -reducer /usr/bin/wc -numReduceTasks 2 -q
check_status "60 M lines, mapper cat, reducer wc: exit status" 0
check "60 M lines: no worker killed" no_kill "$T/err"
cat wc/part-* | tr -s ' ' | sed 's/^ //' >got.wc
check_file "60 M lines: wc's count" want.wc got.wc
rm -rf big wc

mkdir text
awk 'BEGIN { srand(11)
	for (i = 0; i < 250000; i++) {
		w = ""; n = 2 + int(rand() * 7)
		for (j = 0; j < n; j++) w = w sprintf("%c", 97 + int(rand() * 26))
		v[i] = w }
	for (l = 0; l < 1200000; l++) {
		s = v[int(rand() * rand() * 250000)]
		for (k = 1; k < 12; k++) s = s " " v[int(rand() * rand() * 250000)]
		print s } }' >text/c.txt
tr ' ' '\n' <text/c.txt | LC_ALL=C sort -u | sed 's/$/,c.txt/' >want.inv
cat >inv.json <<'EOF2'
{"input": {"path": "text", "format": "text"}, "operations": [
  {"operator": "flatMap", "function": "WORDS_DOC"},
  {"operator": "reduce", "function": "COLLECT"}]}
EOF2
run_prog run inv.json -p 3 -q
check_status "14 M words, inverted index, -p 3: exit status" 0
check "14 M words: no worker killed" no_kill "$T/err"
check_file "14 M words: the index" want.inv "$T/out"
