#!/bin/sh
# Text jobs: word count equals `tr -cs A-Za-z '\n' | tr A-Z a-z | sort |
# uniq -c` on generated text (mixed case, digits, punctuation, UTF-8 bytes,
# CRLF, long words, no final newline) for 1, 2 and 5 partitions, also when
# checkpoints cut the input small and when a worker is killed; the inverted
# index and SPLIT against awk; CSV quoting and TSV; reduce COUNT, MIN, MAX
# and COLLECT on strings; and operators that get the wrong type refused
# with their position.

# shellcheck source=tests/lib.sh
# shellcheck disable=SC2018,SC2019 # ASCII letters only, as WORDS
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 28

mkdir "$T/books"
# Text of our own making: awk with a fixed seed.
awk 'BEGIN {
	srand(11);
	split("the a of dataflow Worker partition CRASH ok recover " \
	    "stage checkpoint key value", w, " ");
	for (f = 1; f <= 3; f++) {
		file = sprintf("'"$T"'/books/book%d.txt", f);
		for (l = 0; l < 4000; l++) {
			line = "";
			n = int(rand() * 12);
			for (i = 0; i < n; i++) {
				x = w[1 + int(rand() * 13)];
				r = rand();
				if (r < 0.05) x = x "," int(rand() * 100);
				else if (r < 0.08) x = x "\303\251t\303\251";
				else if (r < 0.10) x = "don'\''t-" x;
				line = line (i ? " " : "") x;
			}
			if (l % 7 == 0) line = line "\r";
			print line > file;
		}
		close(file);
	}
}'
# One word longer than any buffer, and no final newline.
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "Ab"; printf " END" }' \
    >"$T/books/long.txt"

cat "$T"/books/* | tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | grep -v '^$' |
    LC_ALL=C sort | uniq -c | awk '{ print $2 "," $1 }' >"$T/wc.want"

cat >"$T/wc.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "operations": [{"operator": "flatMap", "function": "WORDS"},
                {"operator": "reduce", "function": "SUM"}]}
EOF
for p in 1 2 5; do
	run_prog run "$T/wc.json" -p "$p"
	check_file "word count, -p $p" "$T/wc.want" "$T/out"
done
run_prog run "$T/wc.json" -p 3 --checkpoint-interval 4k
check_file "word count with a checkpoint every 4 KiB" "$T/wc.want" "$T/out"

# --split-size deals splits out in turn; killed and resumed inside them.
run_prog run "$T/wc.json" -p 3 --split-size 3k
check_file "word count, --split-size 3k" "$T/wc.want" "$T/out"
run_prog run "$T/wc.json" -p 2 --split-size 5k --checkpoint-interval 2k \
    --inject-crash 0:0:3000
check_file "word count, --split-size, worker killed" "$T/wc.want" "$T/out"
sed 's/"SUM"/"COUNT"/' "$T/wc.json" >"$T/wcs.json"
run_prog run "$T/wcs.json" -p 3 --split-size 1k --checkpoint-interval 1k \
    --inject-crash 2:0:2500
check_file "general path, --split-size, worker killed" "$T/wc.want" \
    "$T/out"

# With splits, the first bad line of the input is still the one reported.
{
	awk 'BEGIN { for (i = 0; i < 3000; i++) print i "," i }'
	echo "3000,x"
	awk 'BEGIN { for (i = 0; i < 3000; i++) print i "," i }'
	echo "bad"
} >"$T/bad.csv"
echo '{"operations": [{"operator": "map", "expr": "v"}]}' >"$T/id.json"
run_prog run "$T/id.json" -i "$T/bad.csv" -p 3 --split-size 2k
check_status "splits and a bad input: exit status 2" 2
check_err "splits and a bad input: the first error" "bad.csv:3001:6: "
# Every time: a worker that is done must not stop one that may still find
# an earlier error (it did, once in ten runs).
n=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	run_prog run "$T/id.json" -i "$T/bad.csv" -p 3 --split-size 2k
	grep -q "bad.csv:3001:6: " "$T/err" && n=$((n + 1))
done
check "splits and a bad input: the first error, 20 runs of 20" test "$n" = 20

# The same through the general path (COUNT of words, no fused scan).
sed 's/"SUM"/"COUNT"/' "$T/wc.json" >"$T/wcc.json"
run_prog run "$T/wcc.json" -p 2
check_file "word count as reduce COUNT" "$T/wc.want" "$T/out"

# A worker killed in the middle of its input resumes from its checkpoint.
run_prog run "$T/wc.json" -p 2 --checkpoint-interval 8k \
    --inject-crash 1:0:5000 -v
check_file "word count, worker killed: same output" "$T/wc.want" "$T/out"
check_err "word count, worker killed: restarted" \
    'worker 1 (pid [0-9]*) killed by signal 9; restarting from checkpoint'

# Inverted index: word -> the files it is in, sorted, as TSV.
for f in "$T"/books/*; do
	b=$(basename "$f")
	tr -cs 'A-Za-z' '\n' <"$f" | tr 'A-Z' 'a-z' | grep -v '^$' |
	    sed "s/\$/	$b/"
done | LC_ALL=C sort -u | awk -F'\t' '{ if ($1 == w) s = s "," $2;
    else { if (w != "") print w "\t" s; w = $1; s = $2 } }
    END { print w "\t" s }' >"$T/ii.want"
cat >"$T/ii.json" <<EOF
{"input": {"path": "$T/books", "format": "text"},
 "operations": [{"operator": "flatMap", "function": "WORDS_DOC"},
                {"operator": "reduce", "function": "COLLECT"}]}
EOF
for p in 1 4; do
	run_prog run "$T/ii.json" -p "$p" --output-format tsv
	check_file "inverted index, -p $p" "$T/ii.want" "$T/out"
done

# SPLIT on a separator, counted; fields with commas or quotes are quoted.
printf 'a;b,c;a\n"q";a;;\n' >"$T/s.txt"
cat >"$T/split.json" <<EOF
{"input": {"path": "$T/s.txt", "format": "text"},
 "operations": [{"operator": "flatMap", "function": "SPLIT", "arg": ";"},
                {"operator": "reduce", "function": "COUNT"}]}
EOF
printf ',2\n"""q""",1\na,3\n"b,c",1\n' >"$T/split.want"
run_prog run "$T/split.json" -p 2
check_file "SPLIT and CSV quoting" "$T/split.want" "$T/out"
printf '\t2\n"q"\t1\na\t3\nb,c\t1\n' >"$T/split.tsv"
run_prog run "$T/split.json" -p 2 --output-format tsv
check_file "SPLIT as TSV" "$T/split.tsv" "$T/out"

# MIN and MAX of strings are bytewise; COLLECT of integers sorts them as
# numbers.
printf 'b x\nb y\na m\n' >"$T/kv.txt"
cat >"$T/mm.json" <<EOF
{"input": {"path": "$T/kv.txt", "format": "text"},
 "operations": [{"operator": "reduce", "function": "MAX"}]}
EOF
printf 'kv.txt,b y\n' >"$T/mm.want"
run_prog run "$T/mm.json" -p 2
check_file "reduce MAX of lines (strings)" "$T/mm.want" "$T/out"
printf '1,10\n1,9\n2,5\n1,10\n' >"$T/ints.csv"
cat >"$T/col.json" <<EOF
{"input": "$T/ints.csv",
 "operations": [{"operator": "reduce", "function": "COLLECT"}]}
EOF
printf '1,"9,10"\n2,5\n' >"$T/col.want"
run_prog run "$T/col.json" -p 3
check_file "COLLECT of integers: distinct, in numeric order" \
    "$T/col.want" "$T/out"

# Types: an operator that gets strings where it computes on integers.
cat >"$T/bad.json" <<EOF
{"input": {"path": "$T/s.txt", "format": "text"},
 "operations": [
  {"operator": "flatMap", "function": "WORDS_DOC"},
  {"operator": "map", "function": "ADD", "arg": 1}]}
EOF
run_prog run "$T/bad.json"
check_status "map on strings: exit status 2" 2
check_err "map on strings: names the operator and its position" \
    "bad.json:4:3: map ADD computes on integers, but the keys or values here are strings"
cat >"$T/bad2.json" <<EOF
{"input": "$T/ints.csv",
 "operations": [{"operator": "flatMap", "function": "WORDS"}]}
EOF
run_prog run "$T/bad2.json"
check_status "WORDS on integers: exit status 2" 2
check_err "WORDS on integers: says why" \
    "bad2.json:2:17: flatMap WORDS splits text, but the values here are integers"
cat >"$T/bad3.json" <<EOF
{"input": {"path": "$T/s.txt", "format": "text"},
 "operations": [{"operator": "flatMap", "function": "SPLIT"}]}
EOF
run_prog run "$T/bad3.json"
check_err "SPLIT without a separator is refused" \
    'flatMap SPLIT needs a separator'

# -o: parts are text in the chosen format, and their union is the output.
run_prog run "$T/wc.json" -p 3 -o "$T/res"
check_status "word count -o: exit status" 0
LC_ALL=C sort "$T"/res/part-* >"$T/res.sorted"
LC_ALL=C sort "$T/wc.want" >"$T/wc.sorted"
check_file "word count -o: the parts hold the counts" "$T/wc.sorted" \
    "$T/res.sorted"
check "word count -o: _SUCCESS" test -f "$T/res/_SUCCESS"

check_no_jobdirs "no job directory left in TMPDIR"
