#!/bin/sh
# The fuzzers' regression inputs: every file of tests/fuzz/corpus/NAME/,
# and every crash of tests/fuzz/crashes/ (its name says which harness, see
# the README there), replayed through the libFuzzer harness NAME without
# libFuzzer, by fuzz/replay/NAME (tests/fuzz/replay.c), which make check
# builds with the flags of the other tests: under --enable-sanitizers the
# inputs run under ASan and UBSan.
#
# One test per harness: ok with the number of inputs it replayed, or not
# ok naming each input that aborts (a property that does not hold), crashes
# or makes a sanitizer report.  The inputs of a harness run in one process,
# one after the other, as libFuzzer runs them, in a scratch folder with
# TMPDIR inside it as make fuzz has it; when that fails, each runs again
# alone to find the ones to blame.  One more test: every crash is named for
# a harness that exists.
#
# Environment: FUZZ_REPLAY, the folder of the replay programs (make check
# sets it).

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

FUZZ_REPLAY=${FUZZ_REPLAY:-$(pwd)/fuzz/replay}
fuzz=$SRCDIR/tests/fuzz

# The harnesses: those with a corpus.
harnesses=
for d in "$fuzz"/corpus/fuzz_*; do
	[ -d "$d" ] && harnesses="$harnesses ${d##*/}"
done
[ -n "$harnesses" ] || bail_out "no corpus in $fuzz/corpus"

# shellcheck disable=SC2086 # one word per harness
set -- $harnesses
plan $(($# + 1))

cd "$T" || bail_out "cannot cd to $T"

# replay NAME LOG FILE...: run harness NAME on the files in its scratch
# folder $T/NAME, output in LOG; fails if it exits other than 0 or prints
# a sanitizer's report.
replay() {
	_rp_name=$1
	_rp_log=$2
	shift 2
	rm -rf "$T/${_rp_name:?}"
	mkdir -p "$T/$_rp_name/tmp" || return 1
	# The outer subshell keeps the shell's own "Aborted" out of the log.
	( (cd "$T/$_rp_name" && TMPDIR=$T/$_rp_name/tmp \
	    exec "$FUZZ_REPLAY/$_rp_name" "$@") >"$_rp_log" 2>&1 ) \
	    2>/dev/null || return 1
	! grep -q -E -e 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer)' \
	    "$_rp_log"
}

# check_harness NAME: replay the corpus and crashes of NAME.
check_harness() {
	_ch_name=$1
	set --
	for _ch_f in "$fuzz/corpus/$_ch_name"/* \
	    "$fuzz/crashes/${_ch_name#fuzz_}"-*; do
		[ -f "$_ch_f" ] && set -- "$@" "$_ch_f"
	done
	if [ ! -x "$FUZZ_REPLAY/$_ch_name" ]; then
		not_ok "$_ch_name: no replay program $FUZZ_REPLAY/$_ch_name"
		return
	fi
	if [ $# -eq 0 ]; then
		not_ok "$_ch_name: no input to replay"
		return
	fi
	if replay "$_ch_name" "$T/$_ch_name.log" "$@"; then
		ok "$_ch_name: $# inputs replayed"
		return
	fi

	# Find the inputs that fail alone.
	_ch_bad=
	_ch_first=
	for _ch_f in "$@"; do
		if ! replay "$_ch_name" "$T/$_ch_name.one" "$_ch_f"; then
			_ch_bad="$_ch_bad ${_ch_f#"$fuzz"/}"
			if [ -z "$_ch_first" ]; then
				_ch_first=${_ch_f#"$fuzz"/}
				cp "$T/$_ch_name.one" "$T/$_ch_name.first"
			fi
		fi
	done
	if [ -n "$_ch_bad" ]; then
		not_ok "$_ch_name: $# inputs, failed on:$_ch_bad"
		diag "$_ch_first:"
		diag_file "$T/$_ch_name.first"
	else
		not_ok "$_ch_name: $# inputs, failed when replayed together" \
		    "(each passes alone)"
		diag_file "$T/$_ch_name.log"
	fi
}

for h in $harnesses; do
	check_harness "$h"
done

# Every crash belongs to a harness: its name starts with the harness's
# name less fuzz_, then a hyphen.
orphans=
for f in "$fuzz"/crashes/*; do
	name=${f##*/}
	case $name in
	README)	continue ;;
	*-*)	;;
	*)	orphans="$orphans $name"
		continue ;;
	esac
	case " $harnesses " in
	*" fuzz_${name%%-*} "*)	;;
	*)	orphans="$orphans $name" ;;
	esac
done
if [ -z "$orphans" ]; then
	ok "every crash names its harness"
else
	not_ok "every crash names its harness; not:$orphans"
fi
