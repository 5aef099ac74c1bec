#!/usr/bin/env python3
"""Checks of what forkflow leaves to watch a job (issue 6), for t-observe.sh.

Each command checks one file against what it must hold and exits 1 with
a message on the first thing that is wrong:

  events FILE NPARTS NSTAGES [killed]   the event log (JOBDIR/events.jsonl)
  status FILE STATE NPARTS NSTAGES      the output of `forkflow status --json`
  counters FILE INPUT                   JOBDIR/counters.json of obs.json
  report FILE NPARTS                    the HTML of `forkflow report`
  trace FILE NPARTS                     Chrome trace-event JSON (--trace)
"""

import html.parser
import json
import os
import re
import sys

WORKER_EVENTS = {"worker_forked", "stage_start", "stage_done", "checkpoint",
                 "worker_died", "worker_exit", "restart", "record_skipped"}
WHERE = ("partition", "stage", "operator", "pid", "attempt")


def fail(msg):
    print("observe.py: " + msg, file=sys.stderr)
    sys.exit(1)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_events(path, nparts, nstages, killed=False):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines[-1] != "":
        fail("%s: the last line has no newline" % path)
    evs = []
    for n, line in enumerate(lines[:-1], 1):
        try:
            e = json.loads(line)
        except ValueError as x:
            fail("%s:%d: not JSON: %s" % (path, n, x))
        if not isinstance(e, dict):
            fail("%s:%d: not an object" % (path, n))
        if not isinstance(e.get("t"), (int, float)) or \
                not isinstance(e.get("event"), str):
            fail("%s:%d: no t or event" % (path, n))
        if e["event"] in WORKER_EVENTS:
            for k in WHERE:
                if not is_int(e.get(k)):
                    fail("%s:%d: %s without %s" % (path, n, e["event"], k))
            if not 0 <= e["partition"] < nparts:
                fail("%s:%d: partition %d" % (path, n, e["partition"]))
        evs.append(e)
    if not evs or evs[0]["event"] != "job_start":
        fail("%s: does not open with job_start" % path)
    if evs[-1]["event"] != "job_end":
        fail("%s: does not end with job_end" % path)
    st = evs[0]
    for k in ("job_id", "partitions", "stages", "pid", "time", "program"):
        if k not in st:
            fail("%s: job_start without %s" % (path, k))
    if st["partitions"] != nparts or st["stages"] != nstages:
        fail("%s: job_start says %d partitions, %d stages" %
             (path, st["partitions"], st["stages"]))
    if evs[-1].get("exit_status") != 0 or evs[-1].get("state") != "done":
        fail("%s: job_end is not a success: %r" % (path, evs[-1]))
    t0 = evs[0]["t"]
    if any(e["t"] < t0 or e["t"] > evs[-1]["t"] for e in evs):
        fail("%s: a time outside the job's" % path)
    committed = [e["stage"] for e in evs if e["event"] == "stage_committed"]
    if committed != list(range(nstages)):
        fail("%s: stages committed %r" % (path, committed))
    for p in range(nparts):
        mine = [e for e in evs if e.get("partition") == p]
        if not any(e["event"] == "worker_forked" for e in mine):
            fail("%s: partition %d was never forked" % (path, p))
        done = [e["stage"] for e in mine if e["event"] == "stage_done"]
        if sorted(done) != list(range(nstages)):
            fail("%s: partition %d did stages %r" % (path, p, done))
    died = [e for e in evs if e["event"] == "worker_died"]
    restarts = [e for e in evs if e["event"] == "restart"]
    if killed:
        if not died or not restarts:
            fail("%s: no worker died and restarted" % path)
        for d in died:
            if not is_int(d.get("signal")) and not is_int(d.get("status")):
                fail("%s: worker_died without signal or status" % path)
            again = [e for e in evs if e["event"] == "worker_forked" and
                     e["partition"] == d["partition"] and
                     e["attempt"] > d["attempt"] and e["t"] >= d["t"]]
            if not again:
                fail("%s: partition %d not forked again after it died" %
                     (path, d["partition"]))
    elif died or restarts:
        fail("%s: a worker died in a job that was not hit" % path)
    print("# %d events, %d died, %d restarts, %d checkpoints" %
          (len(evs), len(died), len(restarts),
           sum(e["event"] == "checkpoint" for e in evs)))


def check_status(path, state, nparts, nstages):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    for k, t in (("state", str), ("pid", int), ("partitions", int),
                 ("job_id", str), ("elapsed", (int, float)),
                 ("workers", list), ("stages", list),
                 ("supervisor_alive", bool)):
        if not isinstance(s.get(k), t):
            fail("%s: no %s" % (path, k))
    if s["state"] != state:
        fail("%s: state %s, want %s" % (path, s["state"], state))
    if s["partitions"] != nparts or len(s["workers"]) != nparts:
        fail("%s: %d workers" % (path, len(s["workers"])))
    if len(s["stages"]) != nstages:
        fail("%s: %d stages" % (path, len(s["stages"])))
    states = {"pending", "running", "completed", "failed", "interrupted"}
    for g in s["stages"]:
        if g.get("state") not in states:
            fail("%s: stage state %r" % (path, g.get("state")))
    for i, w in enumerate(s["workers"]):
        if w.get("partition") != i or not is_int(w.get("attempt")) or \
                w.get("state") not in ("starting", "running", "waiting",
                                       "backoff", "done", "failed",
                                       "stopped"):
            fail("%s: worker %d: %r" % (path, i, w))
    if state == "running":
        if not s["supervisor_alive"]:
            fail("%s: running, but no supervisor" % path)
        if not any(w["state"] == "running" and
                   isinstance(w.get("since_progress"), (int, float))
                   for w in s["workers"]):
            fail("%s: no worker running" % path)
    if state == "interrupted":
        if s["supervisor_alive"] or \
                any(w["state"] in ("running", "waiting", "backoff")
                    for w in s["workers"]):
            fail("%s: interrupted, with something still running" % path)
    if state == "failed":
        if s.get("exit_status") == 0 or \
                not any(g["state"] == "failed" for g in s["stages"]) or \
                not any(w["state"] == "failed" for w in s["workers"]):
            fail("%s: failed, without a failed stage and worker" % path)
    if state == "done":
        if any(g["state"] != "completed" for g in s["stages"]):
            fail("%s: done, with stages not completed" % path)
        if "counters" not in s:
            fail("%s: done, without counters" % path)


def expected_counters(inp):
    """obs.json on the input: map v+1, filter EVEN, reduce SUM, map *2."""
    n = even = 0
    keys = set()
    with open(inp, encoding="ascii") as f:
        for line in f:
            k, v = line.split(",")
            n += 1
            if (int(v) + 1) % 2 == 0:
                even += 1
                keys.add(int(k))
    return [(n, n), (n, even), (even, len(keys)), (len(keys), len(keys))]


def check_counters(path, inp):
    with open(path, encoding="utf-8") as f:
        c = json.load(f)
    got = [(o["records_in"], o["records_out"]) for o in c["operators"]]
    want = expected_counters(inp)
    if got != want:
        fail("%s: operators in/out %r, want %r" % (path, got, want))
    if c["bytes_read"] != os.path.getsize(inp):
        fail("%s: bytes_read %d, input %d" % (path, c["bytes_read"],
                                              os.path.getsize(inp)))
    for k in ("bytes_shuffled", "bytes_written", "checkpoints", "restarts",
              "skipped_records"):
        if not is_int(c.get(k)) or c[k] < 0:
            fail("%s: %s" % (path, k))
    if c["bytes_written"] == 0 or c["bytes_shuffled"] == 0:
        fail("%s: nothing written or shuffled" % path)
    for g in c["stages"]:
        for k in ("wall", "cpu"):
            if not isinstance(g.get(k), (int, float)) or g[k] < 0:
                fail("%s: stage %s" % (path, k))
    print("# operators %r, restarts %d, checkpoints %d" %
          (got, c["restarts"], c["checkpoints"]))


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.lanes = set()
        self.bad = []
        self.svg = 0
        self.crashes = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.bad.append(tag)
        for k in ("src", "href"):
            if k in a:
                self.bad.append("%s=%s" % (k, a[k]))
        if tag == "svg":
            self.svg += 1
        if tag == "g" and a.get("class") == "lane":
            self.lanes.add(a.get("data-partition"))
        if tag == "path" and a.get("class") == "crash":
            self.crashes += 1


def check_report(path, nparts, crashes=0):
    p = Page()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    p.feed(text)
    if p.bad:
        fail("%s: loads or runs something: %r" % (path, p.bad))
    if not re.search(r'<meta http-equiv="Content-Security-Policy" '
                     r'content="default-src \'none\';', text):
        fail("%s: no policy that forbids loads" % path)
    if "@import" in text or "url(" in text:
        fail("%s: its style loads something" % path)
    if p.svg != 1:
        fail("%s: %d svg" % (path, p.svg))
    if p.lanes != {str(i) for i in range(nparts)}:
        fail("%s: lanes %r" % (path, sorted(p.lanes)))
    # The legend holds one crash mark.
    if p.crashes - 1 < crashes:
        fail("%s: %d crashes marked" % (path, p.crashes - 1))


def check_trace(path, nparts):
    with open(path, encoding="utf-8") as f:
        t = json.load(f)
    evs = t["traceEvents"]
    names = {e["tid"] for e in evs if e.get("ph") == "M" and
             e.get("name") == "thread_name"}
    spans = {e["tid"] for e in evs if e.get("ph") == "X"}
    if names != set(range(nparts)) or spans != set(range(nparts)):
        fail("%s: threads %r, spans on %r" % (path, names, spans))
    for e in evs:
        if e["ph"] == "X" and (e["dur"] < 0 or e["ts"] < 0):
            fail("%s: %r" % (path, e))


def main(a):
    if a[0] == "events":
        check_events(a[1], int(a[2]), int(a[3]), len(a) > 4)
    elif a[0] == "status":
        check_status(a[1], a[2], int(a[3]), int(a[4]))
    elif a[0] == "counters":
        check_counters(a[1], a[2])
    elif a[0] == "report":
        check_report(a[1], int(a[2]), int(a[3]) if len(a) > 3 else 0)
    elif a[0] == "trace":
        check_trace(a[1], int(a[2]))
    else:
        fail("unknown command " + a[0])


if __name__ == "__main__":
    main(sys.argv[1:])
