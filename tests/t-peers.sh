#!/bin/sh
# Conformance with the other public implementations (issue 4): their
# programs and data, read where they are in the peers folder (never copied
# into the project), run unchanged and give the results they document.
#
# Vectors 1 to 6 of the peers' README.md, each with -p 1, 2 and 4, with the
# changeKey semantics it lists (5: --changekey-on key; 6: both, the spec's
# by default and the seed's with --changekey-on key), compared as sorted
# multisets of pairs with the expected output ("k v", "k;v" and "k,v" are
# the same pair; CRs and trailing blanks do not count).  The morelli
# programs name their files from their repository's root, so they run from
# the peer's folder; loretor's and Erlang's name no input (their drivers
# did), so it is given with -i.  Without -p and "partitions", morelli's
# program1 runs on one partition per input file (11).
#
# Then the programs without expected output: every AlessandroConti11
# operation*.csv validates, runs to exit 0 on each data*.csv, gives the same
# result on all of them with 1 and 4 partitions, and (with python3) what the
# reference evaluator tests/refeval.py computes from a JSON translation made
# here with awk, independently of forkflow; Erlang's in/op2 (power, root) is
# refused with exit 2 naming power.  And
# `forkflow validate --canonical` of each vector program, run on the same
# input, gives the same expected output (the round trip through the
# canonical form, which carries changeKeyOn).
#
# FORKFLOW_PEERS is the peers folder (default: $SRCDIR/../shared/peers);
# the test is skipped when it is absent.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

peers=${FORKFLOW_PEERS:-$SRCDIR/../shared/peers}
[ -f "$peers/README.md" ] ||
    skip_all "peers vectors not found in $peers (set FORKFLOW_PEERS)"
peers=$(cd "$peers" && pwd)
loretor=$peers/loretor__MapReduce
morelli=$peers/lorenzo-morelli__Distributed-Systems-Project-2023-2024
erlang=$peers/PolimiGiovanniArriciati__fault-tolerant-dataflow-platform
seed=$peers/FilippoScaramuzza__fault-tolerant-dataflow
alessandro=$peers/AlessandroConti11__Fault-Tolerant_Data_Flow
for f in "$loretor/test.json" "$loretor/test.csv" "$loretor/output.txt" \
    "$morelli/files/program0/result.csv" \
    "$morelli/files/program1/result.csv" \
    "$morelli/files/program2/result.csv" \
    "$erlang/in/op1" "$erlang/in/op2" "$erlang/in/data5000" \
    "$erlang/out/data5000op1" "$seed/config.json" "$seed/input.csv" \
    "$alessandro/operation.csv" "$alessandro/data.csv"; do
	[ -f "$f" ] || skip_all "peers vectors incomplete: no $f"
done

# AlessandroConti11's programs and data files, by name.
alessandro_ops=$(cd "$alessandro" && echo operation*.csv)
alessandro_data=$(cd "$alessandro" && echo data*.csv)
plan $((42 + 4 * $(echo "$alessandro_ops" | wc -w)))

here=$(pwd)
if command -v "$PYTHON3" >/dev/null 2>&1 &&
    "$PYTHON3" -c 'import sys; sys.exit(sys.version_info < (3, 7))' \
    2>/dev/null; then
	have_python=1
else
	have_python=0
fi

# kv FILE: FILE's pairs as "k,v" lines sorted as strings, so that two files
# compare equal when they hold the same multiset of pairs.
kv() {
	tr -d '\r' <"$1" |
	    sed -e 's/^[[:blank:]]*//' -e 's/[[:blank:]]*$//' \
	    -e 's/[[:blank:]]*[,;[:blank:]][[:blank:]]*/,/' -e '/^$/d' |
	    LC_ALL=C sort
}

# check_kv DESC WANT: ok if the last run exited 0 and printed the pairs of
# the file WANT (which must have some).
check_kv() {
	if [ "$status" -ne 0 ]; then
		not_ok "$1: exit status $status"
		diag_file "$T/err"
		return 1
	fi
	kv "$2" >"$T/want.kv"
	kv "$T/out" >"$T/got.kv"
	if [ ! -s "$T/want.kv" ]; then
		not_ok "$1: no pairs in $2"
		return 1
	fi
	if cmp -s "$T/want.kv" "$T/got.kv"; then
		ok "$1"
	else
		not_ok "$1"
		diag "want $(wc -l <"$T/want.kv") pairs of $2," \
		    "got $(wc -l <"$T/got.kv"); first differences:"
		diff "$T/want.kv" "$T/got.kv" 2>&1 | sed -e 's/^/#   /' -e 20q
		return 1
	fi
}

# run_in DIR ARGS...: run_prog ARGS... from the folder DIR.
run_in() {
	cd "$1" || bail_out "cannot cd to $1"
	shift
	run_prog "$@"
	cd "$here" || bail_out "cannot cd back to $here"
}

# canonical NAME ARGS...: `forkflow validate --canonical ARGS...` into
# $T/NAME.json; 1 (with a failed test) if it does not exit 0.
canonical() {
	_name=$1
	shift
	run_prog validate --canonical "$@"
	if [ "$status" -ne 0 ] || ! grep -q '"operations"' "$T/out"; then
		not_ok "validate --canonical $*: exit status $status"
		diag_file "$T/err"
		return 1
	fi
	mv "$T/out" "$T/$_name.json"
}

# --- The vectors.

# 1: loretor, string steps in "instructions", input with a BOM, a header
# and ';'.
for p in 1 2 4; do
	run_in "$loretor" run test.json -i test.csv -p "$p"
	check_kv "vector 1 (loretor test.json) -p $p" "$loretor/output.txt"
done

# 2 to 4: morelli, "files", embedded arguments, upper-case names.
for n in 0 1 2; do
	for p in 1 2 4; do
		run_in "$morelli" run "files/program$n/program.json" -p "$p"
		check_kv "vector $((n + 2)) (morelli program$n) -p $p" \
		    "$morelli/files/program$n/result.csv"
	done
done

# Without -p, its 11 input files are cut into byte ranges across one
# partition per processor, not one partition each.
ncpu=$(getconf _NPROCESSORS_ONLN)
run_in "$morelli" run files/program1/program.json -v
if grep -q ": $ncpu partitions, .* in 11 files," "$T/err"; then
	check_kv "vector 3 without -p: 11 files, $ncpu partitions" \
	    "$morelli/files/program1/result.csv"
else
	not_ok "vector 3 without -p: 11 files, $ncpu partitions"
	diag_file "$T/err"
fi

# 5: Erlang, a line program, changeKey on the key.
for d in 5 50 500 5000; do
	for p in 1 2 4; do
		run_in "$erlang" run in/op1 -i "in/data$d" -p "$p" \
		    --changekey-on key
		check_kv "vector 5 (Erlang op1 on data$d, key) -p $p" \
		    "$erlang/out/data${d}op1"
	done
done

# 6: the seed; the README lists both results, a pair between backquotes.
listed() {
	awk -v what="$1" '
		found && /`/ {
			sub(/^[^`]*`/, ""); sub(/`.*$/, "")
			n = split($0, kv, " ")
			for (i = 1; i <= n; i++) print kv[i]
			exit
		}
		index($0, what) { found = 1 }' "$peers/README.md"
}
listed "with key semantics" >"$T/v6-key.want"
listed "with spec semantics" >"$T/v6-value.want"
check "vector 6: the README lists 10 pairs for each semantics" \
    test "$(grep -c '^[0-9]*,[0-9]*$' "$T/v6-key.want")" -eq 10 -a \
    "$(grep -c '^[0-9]*,[0-9]*$' "$T/v6-value.want")" -eq 10
for p in 1 2 4; do
	run_prog run "$seed/config.json" -p "$p"
	check_kv "vector 6 (seed config.json, value: the spec) -p $p" \
	    "$T/v6-value.want"
	run_prog run "$seed/config.json" -p "$p" --changekey-on key
	check_kv "vector 6 (seed config.json, key: the seed's) -p $p" \
	    "$T/v6-key.want"
done

# --- Round trips through the canonical form, run from the same folder
# (relative inputs are found in the current folder too).

if canonical v1 "$loretor/test.json"; then
	run_in "$loretor" run "$T/v1.json" -i test.csv -p 2
	check_kv "canonical form of vector 1" "$loretor/output.txt"
fi
for n in 0 1 2; do
	if canonical "v$((n + 2))" "$morelli/files/program$n/program.json"
	then
		run_in "$morelli" run "$T/v$((n + 2)).json" -p 2
		check_kv "canonical form of vector $((n + 2))" \
		    "$morelli/files/program$n/result.csv"
	fi
done
# The canonical form says "changeKeyOn": "key"; no option is needed.
if canonical v5 --changekey-on key "$erlang/in/op1"; then
	run_in "$erlang" run "$T/v5.json" -i in/data5000 -p 2
	check_kv "canonical form of vector 5 (changeKeyOn key)" \
	    "$erlang/out/data5000op1"
fi
if canonical v6-value "$seed/config.json"; then
	run_in "$seed" run "$T/v6-value.json" -p 2
	check_kv "canonical form of vector 6 (value)" "$T/v6-value.want"
fi
if canonical v6-key --changekey-on key "$seed/config.json"; then
	run_in "$seed" run "$T/v6-key.json" -p 2
	check_kv "canonical form of vector 6 (changeKeyOn key)" \
	    "$T/v6-key.want"
fi

# --- Programs without expected output.

# Erlang's op2 uses power and root: refused, with the reason.
want="in/op2:6:5: map power is refused: it gives numbers that are not"
want="$want integers"
run_in "$erlang" validate in/op2
if [ "$status" -eq 2 ] && [ ! -s "$T/out" ] && grep -q -F "$want" "$T/err"
then
	ok "Erlang op2 (power) refused by validate"
else
	not_ok "Erlang op2 (power) refused by validate"
	diag "exit status $status, want 2 and: $want"
	diag_file "$T/err"
fi
run_in "$erlang" run in/op2 -i in/data5
if [ "$status" -eq 2 ] && [ ! -s "$T/out" ] && grep -q -F "$want" "$T/err"
then
	ok "Erlang op2 (power) refused by run"
else
	not_ok "Erlang op2 (power) refused by run"
	diag "exit status $status, want 2 and: $want"
	diag_file "$T/err"
fi

# AlessandroConti11: line programs "operator;function;arg".  For the
# reference evaluator, alessandro_json FILE translates one into a JSON
# program here, by the names their SOURCE.txt lists (not by forkflow).
alessandro_json() {
	awk -F';' '
	BEGIN {
		op["map"] = "map"; op["filter"] = "filter"
		op["change_key"] = "changeKey"; op["reduce"] = "reduce"
		fn["add"] = "ADD"; fn["sub"] = "SUB"; fn["mult"] = "MUL"
		fn["div"] = "DIV"; fn["equal"] = "EQ"; fn["not_equal"] = "NE"
		fn["greater_than"] = "GT"; fn["greater_of_equal"] = "GE"
		fn["lower_than"] = "LT"; fn["lower_or_equal"] = "LE"
		red["add"] = "SUM"; red["mult"] = "PROD"
		printf "{\"operations\": ["
	}
	{ sub(/\r$/, "") }
	NF == 0 { next }
	{
		f = $1 == "reduce" ? red[$2] : fn[$2]
		if (!($1 in op) || f == "" || $3 !~ /^-?[0-9]+$/) {
			print FILENAME ":" NR ": cannot translate " $0 \
			    >"/dev/stderr"
			exit 1
		}
		printf "%s\n{\"operator\": \"%s\", \"function\": \"%s\"", \
		    sep, op[$1], f
		if ($1 != "reduce")
			printf ", \"arg\": %s", $3
		printf "}"
		sep = ","
	}
	END { print "]}" }' "$1"
}

for op in $alessandro_ops; do
	run_in "$alessandro" validate "$op"
	if [ "$status" -eq 0 ] && [ ! -s "$T/err" ] &&
	    grep -q '"operations"' "$T/out"; then
		ok "Alessandro $op validates"
	else
		not_ok "Alessandro $op validates: exit status $status"
		diag_file "$T/err"
	fi

	bad=
	for d in $alessandro_data; do
		run_in "$alessandro" run "$op" -i "$d" -p 2
		[ "$status" -eq 0 ] || bad="$bad $d(exit $status)"
	done
	check "Alessandro $op runs to exit 0 on each data*.csv${bad:+:$bad}" \
	    test -z "$bad"

	# All the data files at once (the same input for both).
	# shellcheck disable=SC2086 # file names without blanks
	set -- $alessandro_data
	for d; do
		shift
		set -- "$@" -i "$d"
	done
	run_in "$alessandro" run "$op" "$@" -p 1
	mv "$T/out" "$T/p1.out"
	s1=$status
	run_in "$alessandro" run "$op" "$@" -p 4
	check "Alessandro $op on all data*.csv: -p 1 = -p 4" \
	    test "$s1" -eq 0 -a "$status" -eq 0 -a \
	    "$(cksum <"$T/p1.out")" = "$(cksum <"$T/out")"

	# shellcheck disable=SC2086 # file names without blanks
	if [ "$have_python" -eq 0 ]; then
		skip "Alessandro $op = reference evaluator" "no python3"
	elif ! alessandro_json "$alessandro/$op" >"$T/alessandro.json" \
	    2>"$T/ref.err" || ! (cd "$alessandro" &&
	    "$PYTHON3" "$SRCDIR/tests/refeval.py" eval "$T/alessandro.json" \
	    $alessandro_data) >"$T/ref.out" 2>>"$T/ref.err"; then
		not_ok "Alessandro $op = reference evaluator: refeval.py failed"
		diag_file "$T/ref.err"
	else
		check_file "Alessandro $op on all data*.csv = reference" \
		    "$T/ref.out" "$T/out"
	fi
done

check_no_jobdirs "no job directory left in TMPDIR"
