#!/bin/sh
# Input formats: separators ',' ';' tab and spaces, with spaces around
# them and at the end of lines; CRLF; a UTF-8 BOM; one header line (only
# the first line of a file); blank lines; no final newline; negative
# numbers and the int64 extremes; a folder (all its files, also more than
# the descriptors left to keep them open); several -i; -i - (standard
# input, also arriving in pieces); inputs relative to the program; empty
# inputs.  The workers cut the input at byte offsets: every
# offset is made a cut by running with as many partitions as there are
# bytes, and the result must not change.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 42

cd "$T" || bail_out "cannot cd to $T"

cat >id.json <<'EOF'
{"operations": [{"operator": "map", "expr": "v"}]}
EOF
cat >sum.json <<'EOF'
{"operations": [{"operator": "reduce", "function": "SUM"}]}
EOF

# same DESC WANT ARGS...: forkflow run ARGS exits 0 and prints WANT (a
# string of lines separated by spaces).
same() {
	_desc=$1
	: >want
	for _l in $2; do
		printf '%s\n' "$_l" >>want
	done
	shift 2
	run_prog run "$@"
	if [ "$status" -ne 0 ]; then
		not_ok "$_desc: exit status $status"
		diag_file "$T/err"
	else
		check_file "$_desc" want "$T/out"
	fi
}

# input DESC TEXT WANT: TEXT (printf %b) as the input of id.json.
input() {
	printf '%b' "$2" >in.csv
	same "$1" "$3" id.json -i in.csv -p 2
}

w="1,10 2,-20 3,30"
input "comma" '1,10\n2,-20\n3,30\n' "$w"
input "semicolon" '1;10\n2;-20\n3;30\n' "$w"
input "tab" '1\t10\n2\t-20\n3\t30\n' "$w"
input "one space" '1 10\n2 -20\n3 30\n' "$w"
input "spaces and tabs" '1   10\n2 \t -20\n3\t\t30\n' "$w"
input "k, v and k ; v" '1, 10\n2 ,-20\n3 ; 30\n' "$w"
input "leading and trailing spaces" '  1,10  \n\t2,-20\t\n 3 , 30 \n' "$w"
input "CRLF" '1,10\r\n2,-20\r\n3,30\r\n' "$w"
input "CRLF and trailing spaces" '1,10 \r\n2;-20\t\r\n3 30\r\n' "$w"
input "UTF-8 BOM" '\357\273\2771,10\n2,-20\n3,30\n' "$w"
input "header" 'key,value\n1,10\n2,-20\n3,30\n' "$w"
input "BOM, header and CRLF" '\357\273\277k;v\r\n1;10\r\n2;-20\r\n3;30\r\n' "$w"
input "blank lines" '\n1,10\n\n  \n2,-20\r\n\r\n3,30\n\n' "$w"
input "no final newline" '1,10\n2,-20\n3,30' "$w"
input "no final newline after CRLF lines" '1,10\r\n2,-20\r\n3,30\r' "$w"
input "a single line without newline" '7,-7' "7,-7"
input "negative keys and values" '-1,-10\n-2,20\n-3,-30\n' \
    "-3,-30 -2,20 -1,-10"
input "the int64 extremes" \
    '-9223372036854775808;9223372036854775807\n9223372036854775807\t-9223372036854775808\n0,-0\n' \
    "-9223372036854775808,9223372036854775807 0,0 9223372036854775807,-9223372036854775808"

printf '1,10\nkey,value\n' >in.csv
run_prog run id.json -i in.csv
if [ "$status" -eq 2 ] && grep -q 'in.csv:2:1:' "$T/err"; then
	ok "a header is only the first line"
else
	not_ok "a header is only the first line (status $status)"
	diag_file "$T/err"
fi

# Empty inputs.
: >empty.csv
same "empty file" "" id.json -i empty.csv -p 3
printf 'k,v\n' >hdr.csv
same "header only" "" id.json -i hdr.csv -p 3
printf '\357\273\277' >bom.csv
same "BOM only" "" id.json -i bom.csv -p 3
printf '\n \n\r\n' >blank.csv
same "blank lines only" "" id.json -i blank.csv -p 3

# Several files, a folder, standard input.
mkdir dir
printf 'key,value\n1,1\n2,2\n' >dir/a.csv
printf '3;3\r\n4;4' >dir/b.txt
printf '\357\273\277k v\n5 5\n' >dir/c
: >dir/d.csv
w="1,1 2,2 3,3 4,4 5,5"
for p in 1 3; do
	same "a folder: all its files, -p $p" "$w" id.json -i dir -p "$p"
done
same "several -i" "$w" id.json -i dir/c -i dir/a.csv -i dir/d.csv \
    -i dir/b.txt -p 2
same "a folder and a file" "$w 5,5" id.json -i dir -i dir/c -p 2
printf '1,1\n2,2\n' >stdin.csv
run_prog_stdin stdin.csv run id.json -i - -p 2
printf '1,1\n2,2\n' >want
check_file "-i - reads standard input" want "$T/out"
run_prog_stdin stdin.csv run id.json -i dir/b.txt -i - -p 2
printf '1,1\n2,2\n3,3\n4,4\n' >want
check_file "-i - with a file" want "$T/out"

# Standard input that arrives in two pieces, the second after forkflow has
# started to read it (its copy of standard input is in the job directory).
spooling() {
	for _f in "$TMPDIR"/forkflow.*/input-*; do
		if [ -e "$_f" ]; then
			return 0
		fi
	done
	return 1
}
{
	printf '1,1\n2,'
	wait_for 10 spooling || echo "timed out" >timeout
	printf '2\n3,3\n'
} | "$FORKFLOW" run id.json -i - -p 2 >"$T/out" 2>"$T/err"
printf '1,1\n2,2\n3,3\n' >want
check_file "-i - in two pieces" want "$T/out"
check "-i - in two pieces: forkflow was reading before the end" \
    test ! -e timeout

# The program's input is relative to the program's folder.
mkdir -p prog/data
printf '1,5\n1,6\n' >prog/data/x.csv
cat >prog/p.json <<'EOF'
{"input": "data/x.csv",
 "operations": [{"operator": "reduce", "function": "SUM"}]}
EOF
same "the program's input is relative to the program" "1,11" prog/p.json
(cd dir && "$FORKFLOW" run ../prog/p.json) >"$T/out" 2>"$T/err"
printf '1,11\n' >want
check_file "... from another folder too" want "$T/out"

# Every byte offset is a cut: as many partitions as bytes, and more.
# splits DESC FILE...: -p 1 to 8, bytes - 1, bytes, bytes + 5 all print
# what -p 1 prints.
splits() {
	_desc=$1
	shift
	_args=
	_bytes=0
	for _f in "$@"; do
		_args="$_args -i $_f"
		_bytes=$((_bytes + $(wc -c <"$_f")))
	done
	# shellcheck disable=SC2086
	run_prog run id.json $_args -p 1
	cp "$T/out" split.want
	_bad=
	for _p in 2 3 4 5 6 7 8 $((_bytes - 1)) "$_bytes" $((_bytes + 5)); do
		# shellcheck disable=SC2086
		run_prog run id.json $_args -p "$_p"
		if [ "$status" -ne 0 ] || ! cmp -s split.want "$T/out"; then
			if [ -z "$_bad" ]; then
				_first=$_p
				cp "$T/out" split.bad
				cp "$T/err" split.err
			fi
			_bad="$_bad $_p"
		fi
	done
	if [ -s split.want ] && [ -z "$_bad" ]; then
		ok "$_desc: every cut ($_bytes bytes)"
	else
		not_ok "$_desc: differs from -p 1 with -p$_bad"
		diag "-p 1 printed:"
		diag_file split.want
		diag "-p $_first printed:"
		diag_file split.bad
		if [ -s split.err ]; then
			diag_file split.err
		fi
	fi
}
printf '\357\273\277k;v\r\n1;10\r\n\r\n-2 ; -20\r\n 3\t30 \r\n4,40\n\n5 50' \
    >s1.csv
splits "one file: BOM, header, CRLF, blank lines, no final newline" s1.csv
printf '\357\273\2771,1\n2,2\n' >s0.csv
splits "a BOM, then data on the first line" s0.csv
printf '1,1\n22,22' >s2.csv
: >s3.csv
printf 'k,v\n333,333\n' >s4.csv
printf '\357\273\2774,4\r\n\n' >s5.csv
printf '\n\n55555,-55555\n' >s6.csv
splits "several files: empty, headers, no final newline" s2.csv s3.csv \
    s4.csv s5.csv s6.csv
awk 'BEGIN { for (i = 0; i < 12; i++) print i % 7 - 3 "," i * 1000003 }' \
    >s7.csv
splits "twelve lines of different lengths" s7.csv

# A larger input: reduce SUM agrees with awk, for any number of partitions.
awk 'BEGIN { for (i = 0; i < 200000; i++)
	print (i * 7919) % 1009 - 500 "," (i * 104729) % 100003 - 50000 }' \
    >big.csv
awk -F, '{ s[$1] += $2 } END { for (k in s) print k "," s[k] }' big.csv |
    sort_kv - >big.want
for p in 1 4 7; do
	run_prog run sum.json -i big.csv -p "$p"
	check_file "200000 lines, reduce SUM, -p $p" big.want "$T/out"
done

# A folder of more files than the descriptors left to keep them open for
# the job: those past the ones kept are opened by path, and all are read.
mkdir many
i=0
while [ "$i" -lt 60 ]; do
	echo "$i,$((i * 3))" >"many/f$(printf %02d "$i").csv"
	i=$((i + 1))
done
cat many/* | sort_kv - >many.want
status=0
(ulimit -n 90 && exec "$FORKFLOW" run id.json -i many -p 2) </dev/null \
    >"$T/out" 2>"$T/err" || status=$?
if [ "$status" = 0 ]; then
	check_file "60 files under ulimit -n 90: all read" many.want "$T/out"
else
	not_ok "60 files under ulimit -n 90: exit status $status"
	diag_file "$T/err"
fi

check_no_jobdirs "no job directory left in TMPDIR"
