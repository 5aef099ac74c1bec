#!/bin/sh
# Every error gives its message and exit status.
#
# Programs (exit 2, FILE:LINE:COLUMN: at the offending token): bad JSON,
# unknown operator or function, missing or non-integer arg, division by a
# constant zero (DIV 0, MOD 0, "v / 0", "v % (2-2)"), expression syntax
# errors with the column inside the file (escapes included); an unknown key
# is a warning (exit 0, silenced by -q).  Run time (exit 1): a division by
# zero names the operator, key and value, prints nothing, creates no -o
# folder and removes the job directory (nothing in it could be resumed).  Input (exit 2, FILE:LINE:COLUMN:,
# nothing written): malformed lines, integers out of range (INT64_MIN is
# fine); with -p 1 and -p 4 the first error of the input is reported.
# Usage (exit 2): no arguments, bad -p, unknown option or command, an
# existing -o folder without --force, missing files, an input that is not
# a regular file (no job directory left behind).

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

plan 72

cd "$T" || bail_out "cannot cd to $T"

# pos FILE TEXT: LINE:COLUMN (in bytes, from 1) where TEXT first starts.
pos() {
	awk -v s="$2" '(i = index($0, s)) > 0 { print NR ":" i; exit }' "$1"
}

# fails DESC STATUS TEXT ARGS...: forkflow ARGS exits with STATUS, and a
# line of its standard error contains TEXT.
fails() {
	_desc=$1
	_want=$2
	_text=$3
	shift 3
	run_prog "$@"
	if [ "$status" = "$_want" ] && grep -q -F -e "$_text" "$T/err"; then
		ok "$_desc"
	else
		not_ok "$_desc"
		diag "want exit status $_want and: $_text"
		diag "got exit status $status and:"
		diag_file "$T/err"
	fi
}

# absent FILE...: none of the files exists.
absent() {
	for _f in "$@"; do
		if [ -e "$_f" ] || [ -L "$_f" ]; then
			return 1
		fi
	done
}

# prog FILE OPERATOR-LINE: a program with the operator on line 4.
prog() {
	cat >"$1" <<EOF
{
  "input": "in.csv",
  "operations": [
    $2
  ]
}
EOF
}

# exprprog FILE OPERATOR EXPR: a program whose expression is on line 5.
exprprog() {
	cat >"$1" <<EOF
{
  "input": "in.csv",
  "operations": [
    {"operator": "$2",
     "expr": "$3"}
  ]
}
EOF
}

printf '1,2\n3,4\n' >in.csv

# --- Bad JSON: the line and column of the offending token.

prog j1.json '{"operator": "map" "function": "ADD", "arg": 1}'
fails "bad JSON: a missing comma" 2 \
    "j1.json:$(pos j1.json '"function"'): invalid JSON" run j1.json
prog j2.json '{"operator": "map", "function": "ADD", "arg": tru}'
fails "bad JSON: an invalid literal" 2 \
    "j2.json:$(pos j2.json 'tru'): invalid JSON" run j2.json
prog j3.json '{"operator": "map", "function": "ADD", "arg": 1},'
fails "bad JSON: a trailing comma" 2 "j3.json:5:3: invalid JSON" run j3.json
{ cat j1.json; echo '}'; } | sed 's/"map" "function"/"map", "function"/' \
    >j4.json
fails "bad JSON: text after the end" 2 "j4.json:7:1: invalid JSON" \
    validate j4.json

# --- Operators and functions.

prog op.json '{"operator": "mapp", "function": "ADD", "arg": 1}'
fails "unknown operator" 2 \
    "op.json:$(pos op.json '"mapp"'): unknown operator 'mapp'" run op.json
prog fn.json '{"operator": "map", "function": "FOO", "arg": 1}'
fails "unknown function for map" 2 \
    "fn.json:$(pos fn.json '"FOO"'): unknown function 'FOO' for map" \
    run fn.json
prog fn2.json '{"operator": "filter", "function": "ADD", "arg": 1}'
fails "unknown function for filter" 2 \
    "fn2.json:$(pos fn2.json '"ADD"'): unknown function 'ADD' for filter" \
    run fn2.json
prog fn3.json '{"operator": "reduce", "function": "AVG"}'
fails "unknown function for reduce" 2 \
    "fn3.json:$(pos fn3.json '"AVG"'): unknown function 'AVG' for reduce" \
    validate fn3.json
prog arg.json '{"operator": "map", "function": "ADD"}'
fails "missing arg" 2 \
    "arg.json:$(pos arg.json '{"operator"'): map ADD needs an integer \"arg\"" \
    run arg.json
prog arg2.json '{"operator": "changeKey", "function": "MOD", "arg": "5"}'
fails "string arg" 2 \
    "arg2.json:$(pos arg2.json '"5"'): \"arg\" must be an integer" \
    run arg2.json
prog arg3.json '{"operator": "filter", "function": "GT", "arg": 1.5}'
fails "fractional arg" 2 \
    "arg3.json:$(pos arg3.json '1.5'): \"arg\" must be an integer" \
    validate arg3.json

# --- Division by a constant zero is refused when the program loads.

prog z1.json '{"operator": "map", "function": "DIV", "arg": 0}'
fails "DIV 0" 2 "z1.json:$(pos z1.json '0}'): map DIV 0: division by zero" \
    run z1.json
prog z2.json '{"operator": "changeKey", "function": "MOD", "arg": 0}'
fails "MOD 0" 2 \
    "z2.json:$(pos z2.json '0}'): changeKey MOD 0: modulo by zero" run z2.json
exprprog z3.json map 'v / 0'
fails "expr v / 0" 2 \
    "z3.json:5:17: in expression \"v / 0\": division by constant zero" \
    run z3.json
exprprog z4.json filter 'v % (2-2)'
fails "expr v % (2-2)" 2 \
    "z4.json:5:17: in expression \"v % (2-2)\": modulo by constant zero" \
    run z4.json
exprprog z5.json map 'k < 0 ? 1 : v / (3 * 0)'
fails "a constant zero divisor in a branch" 2 \
    "z5.json:$(pos z5.json '/ (3'): in expression" run z5.json

# --- Expression syntax errors: the column is in the file.

exprprog x1.json map 'v + * 2'
fails "expr: unexpected operator, exact position" 2 \
    "x1.json:5:19: in expression \"v + * 2\": unexpected '*'" run x1.json
fails "expr: validate gives the same message" 2 \
    "x1.json:5:19: in expression \"v + * 2\": unexpected '*'" validate x1.json
exprprog x2.json map 'v +'
fails "expr: unexpected end" 2 \
    "x2.json:$(pos x2.json '"}'): in expression \"v +\": unexpected end" \
    run x2.json
exprprog x3.json filter '(v + 1'
fails "expr: missing parenthesis" 2 \
    "x3.json:$(pos x3.json '"}'): in expression \"(v + 1\": expected ')'" \
    run x3.json
exprprog x4.json map 'foo(v)'
fails "expr: unknown function" 2 \
    "x4.json:$(pos x4.json 'foo'): in expression \"foo(v)\": unknown function 'foo'" \
    run x4.json
exprprog x5.json changeKey 'v + x'
fails "expr: unknown identifier" 2 \
    "x5.json:$(pos x5.json 'x"'): in expression \"v + x\": unknown identifier 'x'" \
    run x5.json
exprprog x6.json filter 'v = 1'
fails "expr: = for ==" 2 \
    "x6.json:$(pos x6.json '= 1'): in expression \"v = 1\": unexpected '='" \
    run x6.json
exprprog x7.json map 'min(v)'
fails "expr: too few arguments" 2 \
    "x7.json:$(pos x7.json ')"'): in expression \"min(v)\": 'min' takes 2 arguments" \
    run x7.json
exprprog x8.json map 'v + 9223372036854775808'
fails "expr: literal out of range" 2 \
    "x8.json:$(pos x8.json '92'): in expression \"v + 9223372036854775808\": integer literal out of range" \
    run x8.json
exprprog x9.json map 'v +\t* 2'
fails "expr: column after a \\t escape" 2 \
    "x9.json:5:20: in expression" run x9.json
exprprog x10.json map 'v +\u0020* 2'
fails "expr: column after a \\u escape" 2 \
    "x10.json:5:24: in expression" run x10.json
exprprog x11.json map 'v ? 1'
fails "expr: ? without :" 2 \
    "x11.json:$(pos x11.json '"}'): in expression \"v ? 1\": expected ':'" \
    run x11.json
exprprog x12.json map ''
fails "expr: empty" 2 "x12.json:5:15: in expression \"\": empty expression" \
    run x12.json

# --- Unknown keys are warnings.

cat >w.json <<'EOF'
{
  "input": "in.csv",
  "partitons": 2,
  "operations": [
    {"operator": "map", "function": "ADD", "arg": 1, "args": 2}
  ]
}
EOF
printf '1,3\n3,5\n' >w.want
fails "unknown top-level key: a warning" 0 \
    "w.json:3:3: warning: unknown key 'partitons' ignored" run w.json
check_file "unknown key: the job still runs" w.want "$T/out"
check_err "unknown key in an operator: a warning" \
    "w\.json:$(pos w.json '"args"'): warning: unknown key 'args' ignored"
run_prog run w.json -q
if [ "$status" -eq 0 ] && [ ! -s "$T/err" ]; then
	ok "unknown key: -q silences the warning"
else
	not_ok "unknown key: -q silences the warning (status $status)"
	diag_file "$T/err"
fi
fails "unknown key: validate warns too" 0 \
    "w.json:3:3: warning: unknown key 'partitons' ignored" validate w.json

# --- Division by zero at run time.

exprprog rt.json map 'v / k'
printf '1,2\n0,7\n3,4\n' >rt.csv
for p in 1 3; do
	fails "run-time division by zero -p $p: exit 1, operator, key, value" 1 \
	    'map "v / k" (rt.json:4:5): division by zero at key 0, value 7' \
	    run rt.json -i rt.csv -p "$p"
	check "run-time division by zero -p $p: nothing printed" \
	    test ! -s "$T/out"
done
fails "run-time division by zero with -o: exit 1" 1 \
    'division by zero at key 0, value 7' run rt.json -i rt.csv -o rt.out
check "run-time division by zero: -o folder not created" \
    absent rt.out .rt.out.forkflow-*
# Nothing in it could be resumed: the job directory goes (forkflow(1)).
check_no_jobdirs "run-time division by zero: the job directory is removed"

# --- Bad input: exit 2, FILE:LINE:COLUMN:, nothing written.

cat >id.json <<'EOF'
{"operations": [{"operator": "map", "expr": "v"}]}
EOF
# badin DESC INPUT TEXT: INPUT fails with TEXT, writing nothing.
badin() {
	printf '%b' "$2" >bad.csv
	run_prog run id.json -i bad.csv -o bad.out
	if [ "$status" -eq 2 ] && grep -q -F -e "$3" "$T/err" &&
	    [ ! -s "$T/out" ] && absent bad.out .bad.out.forkflow-*; then
		ok "$1"
	else
		not_ok "$1"
		diag "want exit status 2, no bad.out, and: $3"
		diag "got exit status $status and:"
		diag_file "$T/err"
		for _f in .* *; do
			diag "in the folder: $_f"
		done
	fi
}
badin "input: a key that is no number" '1,2\nx,3\n' \
    'bad.csv:2:1: expected an integer key'
badin "input: no separator" '1,2\n3\n' 'bad.csv:2:2: expected a separator'
badin "input: no value" '1,2\n3,\n' 'bad.csv:2:3: expected an integer value'
badin "input: junk after the value" '1,2\n3,4x\n' \
    'bad.csv:2:4: unexpected characters after the value'
badin "input: three fields" '1,2\n3,4,5\n' \
    'bad.csv:2:4: unexpected characters after the value'
badin "input: key 2^63 out of range" '1,2\n9223372036854775808,1\n' \
    'bad.csv:2:1: integer out of range'
badin "input: value -2^63-1 out of range" '1,2\n1,-9223372036854775809\n' \
    'bad.csv:2:3: integer out of range'
badin "input: an error on an unterminated last line" '1,2\n3,x' \
    'bad.csv:2:3: expected an integer value'
badin "input: a second header line" 'k,v\n1,2\nk,v\n' \
    'bad.csv:3:1: expected an integer key'
run_prog run id.json -i bad.csv
check "input errors: nothing on standard output" test ! -s "$T/out"

printf '%s\n' '-9223372036854775808,-9223372036854775808' \
    '9223372036854775807,9223372036854775807' >ext.csv
run_prog run id.json -i ext.csv
check_status "input: the int64 extremes are valid" 0
check_file "input: the int64 extremes are read back" ext.csv "$T/out"

# The first error of the input is reported, whichever worker finds it: with
# -p 4, worker 0 meets its error after 199994 lines, the others at once.
awk 'BEGIN { n = 800000; q = n / 4
	for (i = 1; i <= n; i++)
		if (i == q - 5 || i == q + 2 || i == 2 * q + 2 || i == 3 * q + 2)
			printf "%07d;%07dx\n", i, i
		else
			printf "%07d,%08d\n", i, i }' >late.csv
for p in 1 4; do
	fails "input: the first error is reported with -p $p" 2 \
	    'late.csv:199995:16: unexpected characters after the value' \
	    run id.json -i late.csv -p "$p"
	cp "$T/err" "err$p"
done
check_file "input: the same message with -p 1 and -p 4" err1 err4

# --- Usage.

fails "usage: no arguments" 2 "usage:"
fails "usage: run without a program" 2 "usage:" run
fails "usage: validate without a program" 2 "usage:" validate
fails "usage: -p 0" 2 "partitions must be" run id.json -i in.csv -p 0
fails "usage: -p x" 2 "partitions must be" run id.json -i in.csv -p x
fails "usage: -p 2x" 2 "partitions must be" run id.json -i in.csv -p 2x
fails "usage: unknown option" 2 "usage:" run id.json -i in.csv --bogus
fails "usage: unknown command" 2 "unknown command: frob" frob id.json
mkdir exists
fails "usage: -o to an existing folder" 2 "exists: output exists" \
    run id.json -i in.csv -o exists
check "usage: the existing folder is left alone" test ! -e exists/_SUCCESS
run_prog run id.json -i in.csv -o exists --force
check_status "usage: -o to an existing folder with --force" 0
fails "missing input file" 2 "nope.csv: No such file" \
    run id.json -i nope.csv
cat >noin.json <<'EOF'
{"input": "nope.csv", "operations": [{"operator": "map", "expr": "v"}]}
EOF
fails "missing input file named by the program" 2 "input nope.csv not found" \
    run noin.json
fails "missing program file" 2 "nope.json: No such file" run nope.json
# An input that is no regular file (here a device) is refused or read as
# empty; either way the job directory goes.
run_prog run id.json -i /dev/null
if { [ "$status" -eq 2 ] || { [ "$status" -eq 0 ] && [ ! -s "$T/out" ]; }; } &&
    [ -z "$(jobdirs)" ]; then
	ok "input that is no regular file: no job directory left"
else
	not_ok "input that is no regular file: no job directory left" \
	    "(status $status)"
	diag_file "$T/err"
	jobdirs | while read -r d; do
		diag "left behind: $d"
	done
fi
rm -rf "$TMPDIR"/forkflow.*

check_no_jobdirs "no job directory left in TMPDIR"
