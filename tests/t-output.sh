#!/bin/sh
# Output: standard output is sorted by key, then value, with the same bytes
# for any number of partitions.  -o DIR holds part-00000 ... (one per
# partition, each sorted, a key in one part only after a reduce), which
# together are what standard output has, and _SUCCESS naming the job and
# its run; nothing is left beside DIR; --force replaces DIR; DIR/ is DIR; a
# missing parent is an error that leaves nothing behind, and so is a reader
# that goes away.  The job directory is removed after success unless
# --keep (mode 0700, journal, ckpt/, status/), and --job-dir DIR is used
# instead of one in $TMPDIR, and not removed.  validate prints canonical
# JSON, which validates to the same text and runs to the same output.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

set -- "$SRCDIR"/examples/*.json
[ -e "$1" ] || set --
plan $((63 + $# * 3))

cd "$T" || bail_out "cannot cd to $T"

cat >id.json <<'EOF'
{"operations": [{"operator": "map", "expr": "v"}]}
EOF
cat >red.json <<'EOF'
{"operations": [{"operator": "changeKey", "expr": "v % 97"},
                {"operator": "reduce", "function": "SUM"}]}
EOF

# Many values per key, negative keys and values, and the extremes.
awk 'BEGIN { for (i = 0; i < 5000; i++)
	print (i * 37) % 101 - 50 "," (i * 7919) % 20011 - 10000
	print "9223372036854775807,-9223372036854775808"
	print "-9223372036854775808,9223372036854775807" }' >in.csv
sort_kv in.csv >want

# sorted FILE: FILE is sorted by key, then value.
sorted() {
	LC_ALL=C sort -c -t, -k1,1n -k2,2n "$1" 2>/dev/null
}

run_prog run id.json -i in.csv -p 1
check_file "stdout -p 1: the input, sorted by key then value" want "$T/out"
cp "$T/out" out.1
for p in 2 3 8; do
	run_prog run id.json -i in.csv -p "$p"
	check_file "stdout -p $p: the same bytes as -p 1" out.1 "$T/out"
done
run_prog run red.json -i in.csv -p 1
check "stdout after a reduce is sorted" sorted "$T/out"
cp "$T/out" red.1
run_prog run red.json -i in.csv -p 8
check_file "stdout after a reduce -p 8: the same bytes as -p 1" red.1 "$T/out"

# parts DIR N: DIR holds exactly part-00000 ... part-(N-1) and _SUCCESS.
parts() {
	[ -d "$1" ] || return 1
	_i=0
	{
		while [ "$_i" -lt "$2" ]; do
			printf 'part-%05d\n' "$_i"
			_i=$((_i + 1))
		done
		echo _SUCCESS
	} | LC_ALL=C sort >parts.want
	(cd "$1" && for _f in * .*; do
		case $_f in
		.|..|'*')	;;
		*)		echo "$_f" ;;
		esac
	done) | LC_ALL=C sort >parts.got
	cmp -s parts.want parts.got
}

# nothing_beside DIR: no temporary folder of DIR is beside it.
nothing_beside() {
	for _f in "$(dirname "$1")/.$(basename "$1")".forkflow-*; do
		[ ! -e "$_f" ] || return 1
	done
}

# nothing_in DIR: no temporary folder is in DIR.
nothing_in() {
	! ls -A "$1" | grep -q -e forkflow
}

# each_sorted DIR: every part in DIR is sorted.
each_sorted() {
	for _f in "$1"/part-*; do
		sorted "$_f" || return 1
	done
}

for p in 1 3 8; do
	run_prog run id.json -i in.csv -p "$p" -o "out$p"
	check_status "-o -p $p: exit status" 0
	if check "-o -p $p: $p parts and _SUCCESS" parts "out$p" "$p"; then
		:
	else
		diag "files: $(tr '\n' ' ' <parts.got)"
	fi
	check "-o -p $p: _SUCCESS names the job and its run" grep -q -x \
	    -e 'job [0-9a-f]\{16\} run [0-9a-f]\{16\}' "out$p/_SUCCESS"
	check "-o -p $p: each part is sorted" each_sorted "out$p"
	cat "out$p"/part-* | sort_kv - >cat.got
	check_file "-o -p $p: the parts hold what stdout has" out.1 cat.got
	check "-o -p $p: no temporary folder beside it" \
	    nothing_beside "out$p"
	check_file "-o -p $p: nothing on stdout" /dev/null "$T/out"
done

# After a reduce, a key is in one part only.
run_prog run red.json -i in.csv -p 5 -o red5
cat red5/part-* | sort_kv - >cat.got
check_file "-o after a reduce: the parts hold what stdout has" red.1 cat.got
dup=$(cat red5/part-* | cut -d, -f1 | sort | uniq -d)
check "-o after a reduce: a key is in one part only" test -z "$dup"

# --force replaces what is there; a path in a subfolder.
mkdir -p sub/res
echo old >sub/res/old
echo old >sub/res/part-00007
run_prog run id.json -i in.csv -p 2 -o sub/res --force
check_status "--force: exit status" 0
check "--force: the old output is gone" parts sub/res 2
check "--force: nothing left beside it" nothing_beside sub/res
cat sub/res/part-* | sort_kv - >cat.got
check_file "--force: the new output" out.1 cat.got
ls -a sub >sub.got
printf '.\n..\nres\n' >sub.want
check_file "--force: nothing else in the parent folder" sub.want sub.got

# A trailing slash names the same folder.
run_prog run id.json -i in.csv -p 2 -o slash/
check_status "-o DIR/: exit status" 0
check "-o DIR/: the parts and _SUCCESS in DIR" parts slash 2
check "-o DIR/: nothing left beside it" nothing_beside slash
check "-o DIR/: nothing left in it" nothing_in slash
rm -rf "$TMPDIR"/forkflow.*

# An output folder whose parent is missing: an error, and nothing left.
run_prog run id.json -i in.csv -o nowhere/sub/res
if [ "$status" -ne 0 ] && [ -z "$(jobdirs)" ] && [ ! -e nowhere ]; then
	ok "-o in a missing folder: refused, nothing left"
else
	not_ok "-o in a missing folder: refused, nothing left (status $status)"
	diag_file "$T/err"
	jobdirs | while read -r d; do
		diag "left behind: $d"
	done
fi
rm -rf "$TMPDIR"/forkflow.*

# A reader that goes away early (| head) leaves no job directory behind.
awk 'BEGIN { for (i = 0; i < 300000; i++) print i "," i }' >long.csv
"$FORKFLOW" run id.json -i long.csv -p 2 2>"$T/err" | head -n 1 >/dev/null
check_no_jobdirs "stdout closed early: no job directory left"
rm -rf "$TMPDIR"/forkflow.*

# The job directory.
check_no_jobdirs "default job directories are removed after success"
run_prog run id.json -i in.csv -p 3 --keep
jd=$(jobdirs)
check "--keep: one job directory is kept in TMPDIR" \
    test -n "$jd" -a "$(jobdirs | wc -l)" -eq 1
# shellcheck disable=SC2012
mode=$(ls -ld "$jd" 2>/dev/null | cut -c1-10)
check "--keep: the job directory has mode 0700 ($mode)" \
    test "$mode" = drwx------
check "--keep: it holds journal, ckpt/ and status/" \
    test -f "$jd/journal" -a -d "$jd/ckpt" -a -d "$jd/status"
rm -rf "$jd"
run_prog run id.json -i in.csv -p 3 --job-dir jd --keep
check "--job-dir --keep: it holds journal, ckpt/ and status/" \
    test -f jd/journal -a -d jd/ckpt -a -d jd/status
check_no_jobdirs "--job-dir: nothing made in TMPDIR"
run_prog run id.json -i in.csv -p 3 --job-dir jd2
check_status "--job-dir: exit status" 0
# forkflow(1): "A job directory given this way is not removed."
check "--job-dir without --keep: a given job directory stays" \
    test -f jd2/journal

# validate: canonical JSON, stable, and running to the same output.
mkdir nc
cp in.csv nc/
cat >nc/nc.json <<'EOF'
{ "operations" : [
    {"operator":"map","function":"mul","arg":3},
    {"operator":"changekey", "function":"Mod", "arg": 7},
    {"operator":"filter","expr":"v>=k &&!(v==7)"},
    {"operator":"reduce","function":"add"},
    {"operator":"map","function":"SUB", "arg": -2},
    {"operator":"reduce","function":"count", "arg": 5}
  ], "changeKeyOn": "key", "partitions": 3, "input": "in.csv" }
EOF
set -- "$@" "$T/nc/nc.json"

# canonical_names FILE: operators and functions are spelt canonically.
canonical_names() {
	! grep -E '"(operator|function)"' "$1" | grep -v -E \
	    -e '"operator": "(map|filter|changeKey|reduce|flatMap|mapper|reducer)"' \
	    -e '"function": "(ADD|SUB|MUL|DIV|MOD|GT|GE|LT|LE|EQ|NE|EVEN|ODD)"' \
	    -e '"function": "(SUM|PROD|MIN|MAX|COUNT|COLLECT)"' \
	    -e '"function": "(WORDS|WORDS_DOC|SPLIT)"' >/dev/null
}
for prog in "$@"; do
	name=$(basename "$prog" .json)
	# A copy beside the program's input, so that relative inputs hold.
	rm -rf v && mkdir v
	for f in "$(dirname "$prog")"/*; do
		cp -R "$f" v/
	done
	run_prog validate "$prog"
	cp "$T/out" "v/$name.canon.json"
	if [ "$status" -eq 0 ] && [ -s "v/$name.canon.json" ]; then
		run_prog validate "v/$name.canon.json"
		check_file "validate $name: the canonical text validates to itself" \
		    "v/$name.canon.json" "$T/out"
	else
		not_ok "validate $name: exit status $status"
		diag_file "$T/err"
	fi
	run_prog run "$prog" -p 2
	cp "$T/out" v.want
	run_prog run "v/$name.canon.json" -p 2
	if [ "$status" -eq 0 ] && [ -s v.want ]; then
		check_file "validate $name: the canonical program runs the same" \
		    v.want "$T/out"
	else
		not_ok "validate $name: canonical program: status $status"
		diag_file "$T/err"
	fi
	if canonical_names "v/$name.canon.json"; then
		ok "validate $name: canonical names"
	else
		not_ok "validate $name: canonical names"
		diag_file "v/$name.canon.json"
	fi
done
check "validate: canonical function names" grep -q '"function": "SUM"' \
    v/nc.canon.json

# "output": {"order": "input"}: a program without reduce keeps the order
# of its input, parts one after the other, for any number of partitions
# and when its workers spill; a reduce refuses it, naming where.
awk 'BEGIN { srand(11); for (i = 0; i < 20000; i++)
	print int(rand() * 1000) "," int(rand() * 100000) - 50000 }' >ord.csv
awk -F, '$2 % 3 != 0 { print $1 "," $2 + 1 }' ord.csv >ord.want
cat >ord.json <<'EOF'
{"input": {"path": "ord.csv"}, "output": {"order": "input"},
 "operations": [{"operator": "filter", "expr": "v % 3 != 0"},
  {"operator": "map", "expr": "v + 1"}]}
EOF
for p in 1 4; do
	run_prog run ord.json -p "$p" -q
	check_file "order input, -p $p: the input's order" ord.want "$T/out"
done
run_prog run ord.json -p 3 --memory 1M -q
check_file "order input, spilling: the input's order" ord.want "$T/out"
rm -rf ordout
run_prog run ord.json -p 2 -o ordout -q
cat ordout/part-00000 ordout/part-00001 >ord.parts 2>/dev/null
check_file "order input, -o: the parts in turn" ord.want ord.parts
run_prog validate ord.json --canonical
check "order input: in the canonical program" \
    grep -q '"order": "input"' "$T/out"
cat >ordred.json <<'EOF'
{"input": {"path": "ord.csv"}, "output": {"order": "input"},
 "operations": [{"operator": "reduce", "function": "SUM"}]}
EOF
run_prog run ordred.json -p 2
check_status "order input with a reduce: exit 2" 2
check_err "order input with a reduce: says where and why" \
    '^ordred.json:1:52: the output order "input" is for a program without reduce or reducer; operator 0 is a reduce$'
sed 's/"order": "input"/"order": "random"/' ord.json >ordbad.json
run_prog run ordbad.json -p 2
check_err "order random: refused" \
    '^ordbad.json:1:52: the output order is "key" or "input"$'

# "output": {"format": "tsv", "separator": S}; not with CSV.
cat >sep.json <<'EOF'
{"input": {"path": "ord.csv"}, "output": {"format": "tsv", "separator": " | "},
 "operations": [{"operator": "reduce", "function": "SUM"}]}
EOF
awk -F, '{ s[$1] += $2 } END { for (k in s) print k " | " s[k] }' ord.csv |
    sort -n >sep.want
run_prog run sep.json -p 3 -q
check_file "output separator: key, separator, value" sep.want "$T/out"
sed 's/"tsv"/"csv"/' sep.json >sepcsv.json
run_prog run sepcsv.json -p 3 -q
check_err "output separator with CSV: refused" \
    '^sepcsv.json:1:73: a separator is for "format": "tsv" (CSV'"'"'s is a comma)$'

check_no_jobdirs "no job directory left in TMPDIR"
