#!/bin/sh
# The error matrix of the command line: each subcommand (run, streaming,
# validate, status, report) with each kind of bad argument (missing,
# stray, unknown option, bad value, missing or bad file, empty folder,
# output in the way), run with and without -o where the subcommand takes
# it.  Each case must end with its documented exit status (2 usage or
# invalid program or input, 1 a run-time failure) and its message, never
# with a signal or a message of the C library or a sanitizer, and leave
# the folder it ran in as it found it: no job directory, no temporary
# file, no output folder, no --job-dir it made.  .ci/run also runs this
# under ASan and UBSan.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

FX=$T/fixtures
mkdir -p "$FX/empty" "$FX/text"
printf '1,10\n2,20\n3,30\n' >"$FX/in.csv"
printf 'the quick fox\n' >"$FX/text/a.txt"
cat >"$FX/good.json" <<EOF
{"input": "$FX/in.csv", "operations": [
  {"operator": "map", "expr": "v + 1"},
  {"operator": "reduce", "function": "SUM"}]}
EOF
printf '{"operations": [\n  {"operator": "frob"}]}\n' >"$FX/badop.json"
printf '{"operations": [\n' >"$FX/badjson.json"
printf '{"operations": [{"operator": "map", "expr": "v"}]}\n' >"$FX/noinput.json"
printf '1,2\nnot,a,pair\n' >"$FX/bad.csv"
cat >"$FX/divz.json" <<EOF
{"input": "$FX/in.csv", "operations": [
  {"operator": "map", "expr": "v / (k - 1)"}]}
EOF

# Nothing is made in the folder a case runs in unless a case says so.
setup=

# try DESC STATUS PATTERN ARGS...: forkflow ARGS, run in a fresh folder
# (with TMPDIR inside it), exits with STATUS, has a line matching the basic
# regular expression PATTERN on standard error, does not crash, and
# leaves the folder as it was after $setup.
try() {
	_desc=$1
	_want=$2
	_pat=$3
	shift 3
	rm -rf "$T/c"
	mkdir -p "$T/c/tmp"
	(cd "$T/c" && eval "$setup")
	_before=$(cd "$T/c" && find . | LC_ALL=C sort)
	status=0
	(cd "$T/c" && TMPDIR="$T/c/tmp" exec "$FORKFLOW" "$@") \
	    </dev/null >"$T/out" 2>"$T/err" || status=$?
	_after=$(cd "$T/c" && find . | LC_ALL=C sort)
	_why=
	if [ "$status" != "$_want" ]; then
		_why="exit status $status, want $_want"
	elif ! grep -q -e "$_pat" "$T/err"; then
		_why="no line matching '$_pat'"
	elif grep -q -E 'free\(\)|Segmentation|Aborted|AddressSanitizer|LeakSanitizer|runtime error|double free|core dumped' "$T/err"; then
		_why="a crash on standard error"
	elif [ "$_before" != "$_after" ]; then
		_why="left behind: $(printf '%s\n' "$_after" |
		    grep -v -x -F "$_before" | tr '\n' ' ')"
	fi
	if [ -z "$_why" ]; then
		ok "$_desc"
	else
		not_ok "$_desc: $_why"
		diag "forkflow $*"
		diag_file "$T/err"
	fi
}

# try_o DESC STATUS PATTERN ARGS...: try, then the same with -o out.
try_o() {
	try "$@"
	_d=$1
	shift
	try "$_d (-o)" "$@" -o out
}

plan 104

G=$FX/good.json

# --- run ---
try "run: no arguments" 2 '^usage: forkflow run' run
try "run: two programs" 2 'unexpected argument: extra' run "$G" extra
try "run: -i a b names the stray b" 2 'unexpected argument: b' \
    run "$G" -i a b
try_o "run: unknown option" 2 'unrecognized option' run "$G" --bogus
try "run: an option without its value" 2 'requires an argument' run "$G" -p
try_o "run: missing program" 2 'nope.json: No such file' run nope.json
try_o "run: invalid JSON" 2 'badjson.json:2:1: invalid JSON' \
    run "$FX/badjson.json"
try_o "run: unknown operator" 2 'badop.json:2:16: unknown operator' \
    run "$FX/badop.json"
try_o "run: no input" 2 'no input: give "input"' run "$FX/noinput.json"
try_o "run: missing input" 2 'nope.csv: No such file' run "$G" -i nope.csv
try_o "run: empty input folder" 2 'empty: no input files in this folder' \
    run "$G" -i "$FX/empty"
try_o "run: standard input twice" 2 'standard input given twice' \
    run "$G" -i - -i -
try_o "run: bad input" 2 'bad.csv:2:1: expected an integer key' \
    run "$G" -i "$FX/bad.csv"
try_o "run: -p 0" 2 'partitions must be an integer from 1 to 1024: 0' \
    run "$G" -p 0
try_o "run: -p 1025" 2 'partitions must be an integer from 1 to 1024' \
    run "$G" -p 1025
try_o "run: --max-attempts x" 2 'max-attempts must be an integer' \
    run "$G" --max-attempts x
try_o "run: --checkpoint-interval 0" 2 'checkpoint-interval must be a positive size' \
    run "$G" --checkpoint-interval 0
try_o "run: --split-size 1X" 2 'split-size must be a positive size' \
    run "$G" --split-size 1X
try_o "run: --heartbeat-timeout -1" 2 'heartbeat-timeout must be a positive number' \
    run "$G" --heartbeat-timeout -1
try_o "run: --chaos x" 2 'chaos must be a positive number' \
    run "$G" --chaos x
try_o "run: --status-interval -1" 2 'status-interval must be a positive number' \
    run "$G" --status-interval -1
try_o "run: --progress sometimes" 2 'progress wants auto, always or never' \
    run "$G" --progress sometimes
try_o "run: --output-format xml" 2 'output-format wants csv or tsv' \
    run "$G" --output-format xml
try_o "run: --changekey-on both" 2 'changekey-on wants key or value' \
    run "$G" --changekey-on both
try_o "run: --inject-crash bad" 2 'inject-crash wants' \
    run "$G" --inject-crash bad
try_o "run: --inject-crash 5:0" 2 'no partition 5 or operator 0' \
    run "$G" --inject-crash 5:0 -p 2
try_o "run: --log-file in no folder" 2 'nope/log: No such file' \
    run "$G" --log-file nope/log
try_o "run: --job-dir in no folder" 2 'nope/jd: No such file' \
    run "$G" --job-dir nope/jd
try_o "run: a new --job-dir and a bad input" 2 'bad.csv:2:1: expected' \
    run "$G" -i "$FX/bad.csv" --job-dir jd
try "run: -o in no folder" 2 'nope: no such folder for the output' \
    run "$G" -o nope/out
setup='mkdir out'
try "run: -o over an existing folder" 2 'out: output exists' run "$G" -o out
setup='mkdir jd && : >jd/lock &&
    printf "job 0123456789abcdef partitions 2 stages 2\n" >jd/journal'
try_o "run: --job-dir of another job" 1 'holds another job' \
    run "$G" --job-dir jd -p 2
setup=
try_o "run: a division by zero" 1 'division by zero at key 1, value 10' \
    run "$FX/divz.json" -p 1

# --- streaming ---
S="-input $FX/text -mapper cat"
# shellcheck disable=SC2086 # $S is words
try "streaming: no arguments" 2 'streaming needs -input, -output and -mapper' \
    streaming
# shellcheck disable=SC2086
try "streaming: no -output" 2 'streaming needs -input, -output and -mapper' \
    streaming $S
try "streaming: no -mapper" 2 'streaming needs -input, -output and -mapper' \
    streaming -input "$FX/text" -output out
# shellcheck disable=SC2086
try "streaming: -input missing" 2 'nope: No such file' \
    streaming -input nope -output out -mapper cat
try "streaming: empty input folder" 2 'empty: no input files in this folder' \
    streaming -input "$FX/empty" -output out -mapper cat
# shellcheck disable=SC2086
try "streaming: unknown option" 2 'unknown option -frob' \
    streaming $S -output out -frob x
# shellcheck disable=SC2086
try "streaming: an option without its value" 2 '-mapper needs a value' \
    streaming -input "$FX/text" -output out -mapper
# shellcheck disable=SC2086
try "streaming: -numReduceTasks x" 2 'numReduceTasks must be an integer' \
    streaming $S -output out -numReduceTasks x
# shellcheck disable=SC2086
try "streaming: -file missing" 2 'nope.sh: No such file' \
    streaming $S -output out -file nope.sh
# shellcheck disable=SC2086
try "streaming: a bad run option" 2 'partitions must be an integer' \
    streaming $S -output out --partitions 0
# shellcheck disable=SC2086
try "streaming: an unknown --option" 2 'unknown option --bogus' \
    streaming $S -output out --bogus
# shellcheck disable=SC2086
try "streaming: --job-dir in no folder" 2 'nope/jd: No such file' \
    streaming $S -output out --job-dir nope/jd
# shellcheck disable=SC2086
try "streaming: -output in no folder" 2 'no such folder for the output' \
    streaming $S -output nope/out
setup='mkdir out'
# shellcheck disable=SC2086
try "streaming: -output over an existing folder" 2 'out: output exists' \
    streaming $S -output out
setup=
# shellcheck disable=SC2086
try "streaming: a mapper that fails" 1 'gave up after 1 failure in a row' \
    streaming -input "$FX/text" -output out -mapper false \
    --max-attempts 1 --partitions 1 -q

# --- validate ---
try "validate: no arguments" 2 '^usage: forkflow validate' validate
try "validate: a stray argument" 2 'unexpected argument: extra' \
    validate "$G" extra
try "validate: unknown option" 2 'unrecognized option' validate --bogus "$G"
try "validate: missing program" 2 'nope.json: No such file' \
    validate nope.json
try "validate: invalid JSON" 2 'badjson.json:2:1: invalid JSON' \
    validate "$FX/badjson.json"
try "validate: unknown operator" 2 'badop.json:2:16: unknown operator' \
    validate "$FX/badop.json"
try "validate: --changekey-on both" 2 'changekey-on wants key or value' \
    validate --changekey-on both "$G"

# --- status ---
try "status: no arguments" 2 '^usage: forkflow status' status
try "status: a stray argument" 2 'unexpected argument: extra' \
    status "$FX" extra
try "status: unknown option" 2 'unrecognized option' status --bogus "$FX"
try "status: no such folder" 2 'nope: no forkflow job there' status nope
try "status: a folder that holds no job" 2 'no forkflow job there' \
    status "$FX"
try "status --json: a folder that holds no job" 2 'no forkflow job there' \
    status --json "$FX"

# --- report ---
try "report: no arguments" 2 '^usage: forkflow report' report
try "report: a stray argument" 2 'unexpected argument: extra' \
    report "$FX" extra
try "report: unknown option" 2 'unrecognized option' report --bogus "$FX"
try "report: no such folder" 2 'nope' report nope
try "report: a folder that holds no job" 2 'events.jsonl' report "$FX"
try "report: -o without its value" 2 'requires an argument' report "$FX" -o

# --- pool, and run --pool ---
try "pool: no arguments" 2 '^usage: forkflow pool' pool
try "pool: no hosts" 2 '--hosts or --hostfile, one of them' pool p.sock
try "pool: --hosts and --hostfile" 2 '--hosts or --hostfile, one of them' \
    pool p.sock --hosts a --hostfile f
try "run --pool: with --hosts" 2 "its hosts are the pool's" \
    run "$G" --pool p.sock --hosts a
try "run --pool: standard input as input" 2 'not standard input' \
    run "$G" -i - --pool p.sock
try "run --pool: no pool at the socket" 1 'p.sock: no forkflow pool there' \
    run "$G" --pool p.sock
try "run --pool: an argument that is not UTF-8" 2 'in UTF-8 only' \
    run "$G" -i "$(printf 'caf\351.csv')" --pool p.sock

# --- the command itself ---
try "no command" 2 '^usage: forkflow run'
try "unknown command" 2 'unknown command: frob' frob

check_no_jobdirs "no job directory left in TMPDIR"
