#!/bin/sh
# The live progress display (issue 6), in a real terminal: tmux runs a job
# whose mapper takes a few seconds, capture-pane reads the screen.
#
# - While the job runs: a line per worker (partition, stage, operator,
#   records, bytes done of the total, rate, state, attempt) and a total bar
#   with its percentage and ETA; a worker killed on the way prints its
#   "restarting" line above the display, which stays whole.
# - When it ends: the display is gone from the screen, and the result,
#   written to standard output (a file), has the same bytes as with
#   --progress never: nothing of the display is mixed into it.
# - A job of less than half a second draws nothing.
# - --progress always to a file: at most 5 frames a second, colored; with
#   NO_COLOR, no color.

. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if ! command -v tmux >/dev/null 2>&1; then
	skip_all "no tmux"
fi
plan 13

slow_prog 40000 2000
run_prog run "$T/slow.json" -p 2 --progress never
cp "$T/out" "$T/want"

# frame_shown: the screen holds the total bar.
frame_shown() {
	screen
	grep -q '^\[[#-]*\] *[0-9]*%  stage [01] of 2  [0-9.]*k* rec  [0-9]*:[0-9][0-9]  ETA ' \
	    "$T/screen"
}

in_tmux "'$FORKFLOW' run '$T/slow.json' -p 2 --inject-crash 1:0:12000 >'$T/tty.out'"
if wait_for 30 frame_shown; then
	ok "the total bar, with percentage and ETA"
else
	not_ok "the total bar, with percentage and ETA"
	diag_file "$T/screen"
fi
check "a line per worker" test "$(grep -c \
    '^p[01]   stage [01] of 2  op [01]  *[0-9.]*k* rec  *[0-9.]*[kM]*B/[0-9.]*[kM]*B  *[0-9.]*k* rec/s  [a-z]*  *attempt [12]$' \
    "$T/screen")" = 2
wait_for 30 test -f "$T/done"
screen
check "the job succeeds" test "$(cat "$T/done")" = 0
check "a crash is printed above the display" \
    grep -q '^forkflow: worker 1 (pid [0-9]*) killed by signal 9; restarting' \
    "$T/screen"
check "the display is gone at the end" \
    test "$(grep -c -e '^p[01]   stage' -e '^\[[#-]*\]' "$T/screen")" = 0
check "the counters follow" grep -q '^forkflow: counters:$' "$T/screen"
check_file "standard output holds the result alone" "$T/want" "$T/tty.out"

# A short job: nothing drawn.
in_tmux "'$FORKFLOW' run '$T/slow.json' -p 2 -i /dev/null >/dev/null"
wait_for 30 test -f "$T/done"
screen
check "a short job draws nothing" \
    test "$(grep -c -e '^p[01]   stage' -e '^\[[#-]*\]' "$T/screen")" = 0 -a \
    "$(grep -c '^forkflow: counters:$' "$T/screen")" = 1

# --progress always, to a file: count the frames, look for color.
start=$(date +%s.%N)
run_prog run "$T/slow.json" -p 2 --progress always
end=$(date +%s.%N)
check_file "--progress always: the result" "$T/want" "$T/out"
frames=$(grep -o 'ETA' "$T/err" | wc -l)
# The first frame after half a second, then one each 0.2 s at most (and
# one for the jitter of timers).
most=$(awk -v a="$start" -v b="$end" 'BEGIN { print int(5 * (b - a - 0.5)) + 2 }')
diag "$frames frames in $(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }') s, $most at most"
check "--progress always: frames drawn" test "$frames" -ge 2
check "the first after half a second, at most 5 a second" \
    test "$frames" -le "$most"
check "colored" grep -q "$(printf '\033')\[32m\[#*" "$T/err"
NO_COLOR=1 run_prog run "$T/slow.json" -p 2 --progress always
check "NO_COLOR: no color" \
    test "$(grep -c "$(printf '\033')\[3[0-9]m" "$T/err")" = 0
