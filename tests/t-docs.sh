#!/bin/sh
# The examples of README.md and of the man pages show what forkflow prints
# today, so that they cannot drift from it; and `forkflow --version` is the
# version at the head of CHANGES.
#
# Recognized form.  A runnable example is a block of literal text whose
# first line starts with "$ ": in README.md a code block indented by four
# spaces (it ends at the first line that is not so indented, a blank one
# included), in a man page a .Bd -literal ... .Ed block (the escapes \e,
# \&, \- and \(dq are undone).  In the block, each line that starts with
# "$ " is a command, continued on the next line while it ends with "\" or
# "|"; the lines up to the next command are what it prints, standard output
# and standard error together, as on a terminal.  A block just after a line
# ".\" file: NAME" (man page) or "<!-- file: NAME -->" (README.md) is not
# an example but a file, written as NAME into the folder where that
# document's examples run, as forkflow-program(5) does for the job.json
# and data.csv its EXAMPLES use.
#
# How they run.  The commands of a block run in turn with /bin/sh, in a
# fresh folder holding a copy of examples/ (so nothing is written into the
# source tree) and src/forkflow, a link to the binary under test, which is
# also "forkflow" in PATH; with LC_ALL=C, TMPDIR in the test's folder,
# standard input from /dev/null and standard output not a terminal (write
# `ls -1`, not `ls`).  Each command is a test: its output must be the one
# shown, after these substitutions on both, which hide only what varies
# from run to run:
#
#	pid 4242              -> pid N      (process IDs)
#	3f9a61c2d07be145      -> JOBID      (16 hex digits: a job's identity
#	                                     hashes its input's mtime)
#	/tmp/forkflow.NGNpNV  -> TMPDIR/forkflow.XXXXXX  (temporary folders)
#	12.4 s, 0.1 s ago     -> T s        (durations)
#	the wall s and cpu s columns of the counters -> T T
#
# Byte counts are not masked: the inputs of the examples are far smaller
# than a checkpoint interval, so where checkpoints fall does not vary.
# A mismatch is "not ok FILE:LINE: command" with a diff of the masked
# outputs, shown first (-) and printed (+).
#
# Deliberately not run, as not_run() below decides from their commands:
# README.md's --chaos example (a 20 M-line input, and kills at random) and
# its forkflow status of a running job; forkflow.1's Control-C example (a
# 200 M-line input, and a key typed in the middle) and its forkflow status
# of a running job (the figures and states of a running job depend on
# timing); those of several hosts (--hosts, --hostfile, --pool, pool,
# mpirun, srun), which tests/t-mpi.sh and t-pool.sh run on hosts of their
# own.  Those whose commands run Python (.py) are skipped without
# python3.  The output shown by an example not run, and every other literal
# block that shows what forkflow prints (one whose first line starts with
# "forkflow: ", a status or journal line, a progress display, an event, or
# FILE:LINE:COLUMN:), must match, line by line, one of the formats of
# formats() below, each the regular expression of a message of src/.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

DOCS="README.md man/forkflow.1 man/forkflow-program.5 man/forkflow-events.5"
for d in $DOCS; do
	[ -f "$SRCDIR/$d" ] || bail_out "no $SRCDIR/$d"
done

# not_run COMMANDS: the reason why a block whose commands are COMMANDS is
# not run, if it is not.
not_run() {
	case $1 in
	*--chaos*)
		echo "--chaos kills at random" ;;
	*"head -n 20000000"*)	# 20 M lines, or 200 M
		echo "needs a big input" ;;
	*"forkflow status /"*|*"run big.json"*)
		echo "watches a job while it runs" ;;
	*--hosts*|*--hostfile*|*--mpi*|*--pool*|"mpirun "*|"srun "*)
		echo "needs several hosts (make check-mpi runs them)" ;;
	esac
}

# formats: the extended regular expressions, one per line, that each line
# shown by a block not run must match.
formats() {
	cat <<'EOF'
^-?[0-9]+,-?[0-9]+$
^(\^C)?forkflow: interrupted by signal [0-9]+; to resume, run .* --job-dir .*$
^forkflow: interrupted by signal [0-9]+ before the job started$
^forkflow: the job directory [^ ]+ is kept$
^forkflow pool: ready on [^ ]+, [0-9]+ hosts$
^forkflow: the job failed on its hosts(: .+; [^ ]+: exit [0-9]+| \([^ ]+: exit [0-9]+\)); (its job directories are kept in [^ ]+ on each host; to resume, run forkflow .+|with --job-dir it could be resumed)$
^forkflow: chaos: killing worker [0-9]+ \(pid [0-9]+\)$
^forkflow: worker [0-9]+ \(pid [0-9]+\) (killed by signal [0-9]+|exited with status [0-9]+|killed by the kernel for want of memory \(the OOM killer(, in the job's memory cgroup)?\)); restarting from checkpoint \(stage [0-9]+, operator [0-9]+\): attempt [0-9]+, failures in a row [0-9]+ of [0-9]+$
^forkflow: partition [0-9]+ failed in stage [0-9]+, operator [0-9]+ \(.+\): worker [^;]+; gave up after [0-9]+ failures? in a row \(attempt [0-9]+\); record being processed: .+$
^forkflow: record [0-9]+ of stage [0-9]+ \(key .+, value .+\) crashed worker [0-9]+ twice; skipping it$
^forkflow: worker [0-9]+: skipping record [0-9]+ of stage [0-9]+ \(key .+, value .+\)$
^forkflow: worker [0-9]+: resuming stage [0-9]+ from checkpoint [0-9]+ \(phase [12], at [0-9]+\)$
^forkflow: worker [0-9]+: checkpoint of stage [0-9]+ unusable; starting the stage again$
^forkflow: [^ ]+: damaged at offset [0-9]+, found by worker [0-9]+: (its writer's stage is done again|the stage is done again|the checkpoint's snapshot is dropped; the input is read again|it is asked for again of the host that sent it)$
^forkflow: [^ ]+: asked for again by host [^ ]+; sending it$
^forkflow: worker [0-9]+ \(pid [0-9]+\) made no progress for [0-9]+\.[0-9] s; killing it$
^forkflow: worker [0-9]+ \(pid [0-9]+\): its command read, wrote and reported nothing for [0-9]+\.[0-9] s \(the task timeout\); killing it$
^forkflow: job directory [^ ]+ holds another job: its program, partitions or input differ from this one's; use another --job-dir, or remove it$
^forkflow: [^ ]+: another job wrote its output there first; this job's result is kept in [^ ]+$
^forkflow: the job in [^ ]+ is complete; its output is [^ ]+$
^forkflow: job directory [^ ]+ is in use by another forkflow \(pid [0-9]+\)$
^forkflow: worker [0-9]+: [^ ]+: No space left on device$
^forkflow: writing the output: No space left on device$
^forkflow: worker [0-9]+: [^ ]+: mmap: Cannot allocate memory$
^forkflow: too few file descriptors: [0-9]+ partitions need [0-9]+, and the limit is [0-9]+ \(ulimit -n\)$
^forkflow: -D [^ =]+: (not a property forkflow acts on; the commands see it as \$[A-Za-z0-9_]+|means nothing on one machine, ignored)$
^forkflow: streaming needs -input, -output and -mapper$
^forkflow: worker [0-9]+: (mapper|reducer|combiner): .+$
^forkflow: worker [0-9]+: (mapper|reducer) ".+" \([^ ]+:[0-9]+:[0-9]+\): (mapper|reducer|combiner) exited with status [0-9]+; its last standard error: .+$
^forkflow: map ".+" \([^ ]+:[0-9]+:[0-9]+\): division by zero at key -?[0-9]+, value -?[0-9]+$
^(forkflow: )?job [0-9a-f]{16}: (running|failed|interrupted), [0-9]+\.[0-9] s, stage [0-9]+ of [0-9]+$
^(forkflow: )?job [0-9a-f]{16}: done, [0-9]+\.[0-9] s, [0-9]+ stages?$
^  stages: [0-9]+ pending, [0-9]+ running, [0-9]+ completed, [0-9]+ failed$
^  why: .+$
^  worker [0-9]+: (starting|running|waiting|backoff|done|failed|stopped)( pid [0-9]+)?( stage [0-9]+ operator [0-9]+, [0-9]+ records in)?, attempt [0-9]+(, last progress [0-9]+\.[0-9] s ago)?$
^forkflow: counters:$
^  stage +records in +records out +wall s +cpu s$
^  [0-9]+ +[0-9]+ +[0-9]+ +[0-9]+\.[0-9]{3} +[0-9]+\.[0-9]{3}$
^  op +records in +records out  operator$
^  [0-9]+ +[0-9]+ +[0-9]+  [a-zA-Z].*$
^ +[0-9]+ +[0-9]+  its combiner$
^  bytes read [0-9]+, shuffled [0-9]+, written [0-9]+$
^  checkpoints [0-9]+, restarts [0-9]+, damaged files [0-9]+, skipped records [0-9]+, wall [0-9]+\.[0-9]{3} s, cpu [0-9]+\.[0-9]{3} s$
^  counters of the streaming commands:$
^    [^,	]+,[^	]+	-?[0-9]+$
^p[0-9]+ +stage [0-9]+ of [0-9]+  op [0-9]+ +[0-9.]+[kMGTP]? rec +[0-9.]+[kMGTP]?B/[0-9.]+[kMGTP]?B +([0-9.]+[kMGTP]?|-) rec/s  (starting|running|waiting|backoff|done|failed|stopped) +attempt [0-9]+$
^\[[#-]+\] +[0-9]+%  stage [0-9]+ of [0-9]+  [0-9.]+[kMGTP]? rec  [0-9]+:[0-9]{2}  ETA ([0-9]+:[0-9]{2}|-:--)$
^job [0-9a-f]{16} partitions [0-9]+ stages [0-9]+$
^run [0-9a-f]{16}$
^input [0-9]+ [0-9]+ [0-9]+ [0-9]+ -?[0-9]+\.[0-9]{9}$
^job [0-9a-f]{16} run [0-9a-f]{16}$
^\{"t":[0-9]+\.[0-9]{1,6},"event":"[a-z_]+",("[a-z_]+":("[^"]*"|-?[0-9.]+|true|false),)*("[a-z_]+":("[^"]*"|-?[0-9.]+|true|false)|\.\.\.)\}$
^[^ :]+:[0-9]+:[0-9]+: (warning: )?[a-z'"].+$
EOF
}

# A sample: a literal block that is no example, but shows what forkflow
# prints (its first line matches this).
SAMPLE='^(forkflow: |job [0-9a-f]{16}|p[0-9]+ +stage |\{"t":|  counters of |[^ :]+:[0-9]+:[0-9]+: )'

# The masks of the outputs compared.
cat >"$T/mask.sed" <<'EOF'
s/pid [0-9]+/pid N/g
s/(^|[^0-9a-f])[0-9a-f]{16}($|[^0-9a-f])/\1JOBID\2/g
s,[^ ]*/forkflow\.[A-Za-z0-9]{6},TMPDIR/forkflow.XXXXXX,g
s/[0-9]+\.[0-9]+ s( ago)?($|[^a-z])/T s\1\2/g
s/^(  [0-9]+ +[0-9]+ +[0-9]+) +[0-9]+\.[0-9]+ +[0-9]+\.[0-9]+$/\1 T T/
EOF
mask() {
	sed -E -f "$T/mask.sed" "$1"
}

# Extract the blocks of the documents into $T/ex: for each block B,
# B.where (FILE LINE) and B.kind, "run" or "other"; for a runnable block,
# for each of its commands C, B.C.cmd, B.C.line (its line in FILE) and
# B.C.want, its output, also in B.C.lines with the line of each before a
# tab; for another block, its lines so in B.lines.  The files a document
# declares go to $T/files/DOC/, DOC its path with "_" for "/".
mkdir "$T/ex" "$T/files" || bail_out "mkdir"
# shellcheck disable=SC2086 # $DOCS is a list
(cd "$SRCDIR" && awk -v ex="$T/ex" -v files="$T/files" '
function unesc(s) {
	if (md)
		return s
	gsub(/\\&/, "", s)
	gsub(/\\-/, "-", s)
	gsub(/\\\(dq/, "\"", s)
	gsub(/\\e/, "\\", s)
	return s
}
function add(s) {
	text[++nlines] = s
	tline[nlines] = FNR
}
function flush(   i, c, s, f, wf, doc) {
	inblock = 0
	if (nlines == 0)
		return
	if (fileto != "") {
		doc = FILENAME
		gsub(/\//, "_", doc)
		f = files "/" doc
		system("mkdir -p \"" f "\"")
		f = f "/" fileto
		printf "" >f
		for (i = 1; i <= nlines; i++)
			print text[i] >f
		close(f)
		fileto = ""
		return
	}
	nb++
	printf "%s %d\n", FILENAME, tline[1] >(ex "/" nb ".where")
	close(ex "/" nb ".where")
	if (text[1] !~ /^\$ /) {
		print "other" >(ex "/" nb ".kind")
		close(ex "/" nb ".kind")
		for (i = 1; i <= nlines; i++)
			printf "%d\t%s\n", tline[i], text[i] >(ex "/" nb ".lines")
		close(ex "/" nb ".lines")
		return
	}
	print "run" >(ex "/" nb ".kind")
	close(ex "/" nb ".kind")
	c = 0
	wf = ""
	for (i = 1; i <= nlines; i++) {
		if (text[i] ~ /^\$ /) {
			if (wf != "")
				close(wf)
			c++
			f = ex "/" nb "." c
			print tline[i] >(f ".line")
			close(f ".line")
			s = substr(text[i], 3)
			while (s ~ /(\\|\|) *$/ && i < nlines) {
				i++
				s = s "\n" text[i]
			}
			print s >(f ".cmd")
			close(f ".cmd")
			wf = f ".want"
			printf "" >wf
			printf "" >(f ".lines")
			continue
		}
		print text[i] >wf
		printf "%d\t%s\n", tline[i], text[i] >(f ".lines")
	}
	if (wf != "")
		close(wf)
	close(f ".lines")
}
FNR == 1 {
	if (inblock)
		flush()
	md = FILENAME ~ /\.md$/
	prevblank = 1
	fileto = ""
}
md && inblock && !/^    / {
	flush()
}
md && inblock {
	add(substr($0, 5))
	next
}
md && /^<!-- file: [^ ]+ -->$/ {
	fileto = $3
	next
}
md && prevblank && /^    / {
	inblock = 1
	nlines = 0
	add(substr($0, 5))
	next
}
md {
	if (!/^$/)
		fileto = ""
	prevblank = /^$/
	next
}
/^\.\\" file: [^ ]+$/ {
	fileto = $3
	next
}
/^\.Bd -literal/ {
	inblock = 1
	nlines = 0
	next
}
inblock && /^\.Ed/ {
	flush()
	next
}
inblock {
	add(unesc($0))
	next
}
{
	fileto = ""
}
END {
	if (inblock)
		flush()
}' $DOCS) || bail_out "cannot extract the examples"

# Count the tests: a command of a runnable block, a block not run, a
# sample; and the version, and an example found in each document but the
# events page.  Other blocks that are no sample (programs, data) are left
# alone.
nrun=0
nfmt=0
for k in "$T"/ex/*.kind; do
	[ -e "$k" ] || bail_out "no block found"
	b=${k%.kind}
	if [ "$(cat "$k")" = other ]; then
		if head -n 1 "$b.lines" | cut -f 2- | grep -q -E "$SAMPLE"
		then
			echo sample >"$k"
			nfmt=$((nfmt + 1))
		fi
		continue
	fi
	if [ -n "$(not_run "$(cat "$b".*.cmd)")" ]; then
		nfmt=$((nfmt + 1))
	else
		set -- "$b".*.cmd
		nrun=$((nrun + $#))
	fi
done
plan $((nrun + nfmt + 4))
diag "$nrun commands run, $nfmt blocks checked for their format"

formats >"$T/formats"
mkdir "$T/bin" && ln -s "$FORKFLOW" "$T/bin/forkflow" ||
    bail_out "cannot link forkflow"
PATH=$T/bin:$PATH
LC_ALL=C
export PATH LC_ALL
if command -v timeout >/dev/null 2>&1; then
	TIMEOUT="timeout 300"
else
	TIMEOUT=
fi
if command -v python3 >/dev/null 2>&1; then
	have_python=yes
else
	have_python=
fi

# check_formats DESC FILE: ok if every line of FILE ("LINE<TAB>text")
# matches a format.
check_formats() {
	cut -f 2- "$2" | grep -n -v -E -f "$T/formats" >"$T/bad" || true
	if [ -s "$T/bad" ]; then
		not_ok "$1"
		diag "lines in no format of forkflow's:"
		while IFS=: read -r n text; do
			diag "$(sed -n "${n}s/	.*//p" "$2"): $text"
		done <"$T/bad"
		return 1
	fi
	ok "$1"
}

found=
ls "$T"/ex/*.kind | sed 's,.*/,,; s,\.kind$,,' | sort -n >"$T/blocks"
while read -r b; do
	B=$T/ex/$b
	read -r file line <"$B.where"
	case $(cat "$B.kind") in
	other)
		continue ;;
	sample)
		check_formats "$file:$line: the format of what it shows" \
		    "$B.lines"
		continue ;;
	esac
	why=$(not_run "$(cat "$B".*.cmd)")
	if [ -n "$why" ]; then
		cat "$B".*.lines >"$T/shown"
		check_formats "$file:$line: not run ($why); the format of what it shows" \
		    "$T/shown"
		continue
	fi
	found="$found $file"
	# A fresh folder for the block.
	W=$T/w/$b
	mkdir -p "$W/src" && cp -R "$SRCDIR/examples" "$W/" &&
	    ln -s "$FORKFLOW" "$W/src/forkflow" || bail_out "cannot make $W"
	chmod -R u+w "$W"
	doc=$(echo "$file" | tr / _)
	if [ -d "$T/files/$doc" ]; then
		cp "$T/files/$doc"/* "$W/" || bail_out "cannot copy files"
	fi
	c=1
	while [ -f "$B.$c.cmd" ]; do
		cmd=$(cat "$B.$c.cmd")
		desc="$file:$(cat "$B.$c.line"): $(head -n 1 "$B.$c.cmd")"
		c=$((c + 1))
		case $cmd in
		*.py*)
			if [ -z "$have_python" ]; then
				skip "$desc" "no python3"
				continue
			fi ;;
		esac
		st=0
		(cd "$W" && $TIMEOUT /bin/sh -c "$cmd") </dev/null \
		    >"$T/got" 2>&1 || st=$?
		mask "$B.$((c - 1)).want" >"$T/want.m"
		mask "$T/got" >"$T/got.m"
		if cmp -s "$T/want.m" "$T/got.m"; then
			ok "$desc"
		else
			not_ok "$desc"
			diag "exit status $st; masked, shown (-) and printed (+):"
			diff -u "$T/want.m" "$T/got.m" | sed -e 1,2d \
			    -e 's/^/#   /' -e 40q
		fi
	done
done <"$T/blocks"

# Every document but the events page has a runnable example: the extraction
# still finds them.
for d in README.md man/forkflow.1 man/forkflow-program.5; do
	case " $found " in
	*" $d "*)
		ok "$d has runnable examples" ;;
	*)
		not_ok "$d has runnable examples"
		diag "no block of $d starts with \"\$ \"" ;;
	esac
done

# The version is the one at the head of CHANGES, "forkflow 0.2.0 (...)".
want=$(sed -n '1s/^\(forkflow [^ ]*\).*/\1/p' "$SRCDIR/CHANGES")
got=$("$FORKFLOW" --version 2>&1)
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	ok "forkflow --version is CHANGES's $want"
else
	not_ok "forkflow --version is CHANGES's ${want:-(no version)}"
	diag "forkflow --version printed: $got"
fi
