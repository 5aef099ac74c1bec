#!/bin/sh
# The report of `forkflow report`, opened in a real browser (issue 6):
# headless Chromium renders the report of a job in which a worker was
# killed, takes a screenshot and dumps the page as it built it.  The page
# must load with no console message (its Content-Security-Policy forbids
# any load from the network, and a page that tried would log the refusal),
# and have a lane per partition with the crash marked.
#
# Run by `make check-browser` (and `make check-long`), and in CI, which
# installs Debian's chromium (contrib/install-deps --browser) and sets
# FORKFLOW_REQUIRE_BROWSER=1 so that a missing browser fails the test
# instead of skipping it.  The screenshot is kept as tests/report.png.

. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

BROWSER=${CHROMIUM:-chromium}
if ! command -v "$BROWSER" >/dev/null 2>&1; then
	if [ -n "${FORKFLOW_REQUIRE_BROWSER:-}" ]; then
		plan 1
		not_ok "no $BROWSER, and FORKFLOW_REQUIRE_BROWSER is set"
		exit 1
	fi
	skip_all "no $BROWSER"
fi
plan 7

awk 'BEGIN { srand(9); for (i = 0; i < 200000; i++)
	printf "%d,%d\n", int(rand() * 5000), int(rand() * 1000) }' >"$T/in.csv"
cat >"$T/p.json" <<EOF
{"input": "$T/in.csv", "operations": [
  {"operator": "map", "function": "ADD", "arg": 1},
  {"operator": "reduce", "function": "SUM"},
  {"operator": "changeKey", "expr": "k % 10"},
  {"operator": "reduce", "function": "MAX"}]}
EOF
run_prog run "$T/p.json" -p 4 --job-dir "$T/jd" \
    --checkpoint-interval 128k --inject-crash 2:0:50000
check_status "the job, with a worker killed" 0
run_prog report "$T/jd" -o "$T/report.html"
check_status "forkflow report" 0

# browse ARGS...: headless Chromium on the report; its log in $T/browser.
browse() {
	timeout 120 "$BROWSER" --headless=new --no-sandbox --disable-gpu \
	    --no-first-run --user-data-dir="$T/profile" \
	    --enable-logging=stderr --log-level=0 "$@" \
	    "file://$T/report.html" 2>>"$T/browser"
}
browse --hide-scrollbars --window-size=1100,900 \
    --screenshot="$T/report.png" >/dev/null
browse --dump-dom >"$T/dom.html"

check "a screenshot" test "$(od -An -c -N4 "$T/report.png" | tr -d ' ')" = \
    '211PNG'
size=$(wc -c <"$T/report.png")
diag "screenshot: $size bytes"
check "the screenshot is no blank page" test "$size" -gt 20000
if grep -q 'CONSOLE' "$T/browser"; then
	not_ok "no console message"
	grep 'CONSOLE' "$T/browser" | sed -e 's/^/#   /' -e 10q
else
	ok "no console message"
fi
lanes=$(grep -o '<g class="lane" data-partition="[0-9]*"' "$T/dom.html" |
    sort -u | wc -l)
check "the page as rendered: a lane per partition" test "$lanes" = 4
check "the page as rendered: the crash marked" \
    test "$(grep -c '<path class="crash"' "$T/dom.html")" -ge 2
cp "$T/report.png" report.png 2>/dev/null || true
