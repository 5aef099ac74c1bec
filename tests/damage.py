#!/usr/bin/env python3
# Damaged job files (issue 11), as an adversary would make them: a job is
# interrupted at a random point (kill -9 of the supervisor, or SIGINT),
# one of its files is damaged (a random byte flipped, or the file cut at a
# random offset), and the same command resumes it, with a worker killed a
# moment after the start in half of the trials.  Its output must be the
# fault-free output, byte for byte: a failed check is never a wrong result.
# The job must then end with that output, or fail (exit 1) with a message
# naming the damaged file, which only a journal whose first line is hit in
# the job's id before any checkpoint was written may do.
#
# The files: the stages' run files (sW/wP.data, sealed, and .data.tmp,
# being written), the reduce's spills (.spill.tmp), the reduced groups
# (.reduced), the last stage's runs (out/part-N.runs.tmp) and parts, the
# counters of each checkpoint and stage, the checkpoints, and the journal.
# Damage that the resumed run must read (a part, the counters of a stage
# the journal has committed, a line of the journal) must show as a
# "damaged" event.
#
# Usage: damage.py FORKFLOW WORKDIR TRIALS SEED; prints TAP.

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

FF, WORK, TRIALS, SEED = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4])
rng = random.Random(SEED)
os.chdir(WORK)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def make_inputs():
    r = random.Random(SEED)
    with open("in.csv", "w") as f:
        for _ in range(500000):
            f.write("%d,%d\n" % (r.randrange(1000000),
                                 r.randrange(-1000000, 1000001)))
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(r.choice(letters) for _ in range(r.randrange(2, 9)))
             for _ in range(20000)]
    with open("in.txt", "w") as f:
        for _ in range(150000):
            f.write(" ".join(r.choice(words) for _ in range(8)) + "\n")


# Filler maps leave v as it is on these pairs but make a stage last.
def filler(n, on="k"):
    return "v" + "".join(" %% (%s + 3%09d)" % (on, i) for i in range(n))


INT_PROG = {"operations": [
    {"operator": "filter", "expr": "v % 13 != 0"},
    {"operator": "map", "expr": "v * 3 + k % 11"},
    {"operator": "map", "expr": filler(80)},
    {"operator": "changeKey", "expr": "k % 70001"},
    {"operator": "reduce", "function": "SUM"},
    {"operator": "map", "expr": filler(80)},
    {"operator": "map", "expr": "v % 1000003"},
    {"operator": "changeKey", "expr": "v % 50009"},
    {"operator": "reduce", "function": "MAX"},
    {"operator": "map", "expr": filler(80)}]}

TEXT_PROG = {"input": {"path": "in.txt", "format": "text"}, "operations": [
    {"operator": "flatMap", "function": "WORDS"},
    {"operator": "map", "expr": filler(40, "v")},
    {"operator": "reduce", "function": "SUM"},
    {"operator": "map", "expr": "v * 7"},
    {"operator": "changeKey", "expr": "v % 101"},
    {"operator": "reduce", "function": "COUNT"}]}

JOBS = {
    "int": ["int.json", "-i", "in.csv"],
    "text": ["text.json"],
}


def cmd(job, jd, out):
    c = [FF, "run"] + JOBS[job] + ["-p", "3", "--job-dir", jd,
                                   "--checkpoint-interval", "64k", "-q"]
    if out is not None:
        c += ["-o", out]
    return c


def read_output(out, stdout):
    if out is None:
        return stdout
    parts = sorted(p for p in os.listdir(out) if p.startswith("part-"))
    data = b""
    for p in parts:
        with open(os.path.join(out, p), "rb") as f:
            data += b"==" + p.encode() + b"\n" + f.read()
    return data


def rmtree(path):
    subprocess.call(["rm", "-rf", path])


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            kids.append(int(d))
    return kids


def workers(pid, jd):
    """The supervisor pid's children that its job page in jd says are its
    workers: not any child.  (Under LeakSanitizer a process that exits
    has a child of its own for a moment, the tracer of its leak check,
    and killing that one hangs the process for good.)"""
    try:
        r = subprocess.run([FF, "status", "--json", jd], timeout=30,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ws = json.loads(r.stdout.decode()).get("workers", [])
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return []
    pids = set(w.get("pid") for w in ws if w.get("state") == "running")
    return [k for k in children(pid) if k in pids]


# The files a job keeps and reads back, by kind.
KINDS = [
    ("run file", re.compile(r"^s\d+/w\d+\.data$")),
    ("run file being written", re.compile(r"^s\d+/w\d+\.data\.tmp$")),
    ("spill", re.compile(r"^s\d+/w\d+\.spill\.tmp$")),
    ("reduced groups", re.compile(r"^s\d+/w\d+\.reduced$")),
    ("last stage's runs", re.compile(r"^out/part-\d+\.runs\.tmp$")),
    ("part", re.compile(r"(^|/)part-\d+$")),
    ("counters", re.compile(r"^counters/\d+\.\d+(\.g\d+)?$")),
    ("checkpoint", re.compile(r"^ckpt/\d+$")),
    ("journal", re.compile(r"^journal$")),
]
# Read back by every resumed run that ends: their damage must be seen.
MUST_SEE = {"part", "journal", "counters of a stage"}


def kind_of(rel):
    for k, rx in KINDS:
        if rx.search(rel):
            if k == "counters" and ".g" not in rel:
                return "counters of a stage"
            return k
    return None


def candidates(jd, out):
    found = []
    for root, _, files in os.walk(jd):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, jd)
            k = kind_of(rel)
            if k is not None and os.path.getsize(path) > 0:
                found.append((k, path))
    if out is not None:
        # The parts of an -o job wait in a folder beside it.
        parent = os.path.dirname(out) or "."
        base = os.path.basename(out)
        for d in os.listdir(parent):
            full = os.path.join(parent, d)
            if d.startswith("." + base + ".") and os.path.isdir(full):
                for name in os.listdir(full):
                    if re.match(r"^part-\d+$", name):
                        found.append(("part", os.path.join(full, name)))
    return found


def damage(path):
    size = os.path.getsize(path)
    if rng.random() < 0.5:
        off = rng.randrange(size)
        with open(path, "r+b") as f:
            f.seek(off)
            b = f.read(1)[0]
            f.seek(off)
            f.write(bytes([b ^ rng.randrange(1, 256)]))
        return "flip", off
    off = rng.randrange(size)
    os.truncate(path, off)
    return "cut", off


def committed(jd):
    """What the journal has committed: the stages, whether the output (-o)
    is, and how many stages the job has.  A stage's counters are read back
    only once it is committed (one that is not is done again, its counters
    written anew), and not at all once an -o job's output is: the job has
    nothing left to do."""
    done, out, nstages = set(), False, None
    try:
        with open(os.path.join(jd, "journal")) as f:
            for line in f:
                m = re.match(r"^job [0-9a-f]+ partitions \d+ stages (\d+) ",
                             line)
                if m and nstages is None:
                    nstages = int(m.group(1))
                m = re.match(r"^stage (\d+) committed ", line)
                if m:
                    done.add(int(m.group(1)))
                out = out or line.startswith("output committed ")
    except OSError:
        pass
    return done, out, nstages


def must_see(kind, path, jd, out):
    """Must the resumed run find the damage?  Not when an -o job's output
    is in place: its journal line may be missing (the supervisor died
    between the rename and it), and the run then only notes it."""
    if kind not in MUST_SEE:
        return False
    stages, out_done, nstages = committed(jd)
    if out is not None and (out_done or os.path.isdir(out)):
        return False
    if kind == "counters of a stage":
        return int(os.path.basename(path).split(".")[1]) in stages
    if kind == "part":
        # A part whose stage the journal has not committed may be one
        # whose worker died before its checkpoint said so: with no sum
        # to check it against, the resumed run drops it unread.
        return nstages is not None and nstages - 1 in stages
    return True


def damaged_events(jd):
    found = []
    try:
        with open(os.path.join(jd, "events.jsonl")) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("event") == "damaged":
                    found.append(e.get("file", "?"))
    except OSError:
        pass
    return found


RUN_LIMIT = 180     # seconds a run may take, however slow the build


def run(c, kill_worker_after=None):
    p = subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_worker_after is not None:
        time.sleep(kill_worker_after)
        kids = workers(p.pid, c[c.index("--job-dir") + 1])
        if kids:
            try:
                os.kill(rng.choice(kids), signal.SIGKILL)
            except OSError:
                pass
    try:
        out, err = p.communicate(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        # A run that hangs is a failure to report, not a test that never
        # ends: say where it was.
        stack = " ".join(str(k) for k in [p.pid] + children(p.pid))
        p.kill()
        out, err = p.communicate()
        err += ("\ndamage.py: killed after %d s; processes then: %s"
                % (RUN_LIMIT, stack)).encode()
        return 124, out, err
    return p.returncode, out, err


def wait_gone(pid_list, limit=10):
    t = time.time() + limit
    while time.time() < t:
        if not any(os.path.exists("/proc/%d" % p) for p in pid_list):
            return
        time.sleep(0.02)


def main():
    make_inputs()
    write("int.json", json.dumps(INT_PROG))
    write("text.json", json.dumps(TEXT_PROG))
    expected, took = {}, {}
    for job in JOBS:
        for use_o in (False, True):
            jd, out = "ref-jd", ("ref-out" if use_o else None)
            rmtree(jd)
            if out:
                rmtree(out)
            t0 = time.time()
            rc, stdout, err = run(cmd(job, jd, out))
            took[job] = time.time() - t0
            if rc != 0:
                print("Bail out! the fault-free %s job failed: %s" %
                      (job, err.decode(errors="replace")))
                sys.exit(1)
            expected[job, use_o] = read_output(out, stdout)
            rmtree(jd)
            if out:
                rmtree(out)

    wrong, failed, seen, unseen, kinds, log = [], [], 0, [], {}, []
    clear = []
    for i in range(TRIALS):
        job = rng.choice(list(JOBS))
        use_o = rng.random() < 0.3
        jd, out = "jd-%d" % i, ("out-%d" % i if use_o else None)
        c = cmd(job, jd, out)
        p = subprocess.Popen(c, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, took[job] * 0.95))
        kids = children(p.pid)
        p.send_signal(signal.SIGKILL if rng.random() < 0.6 else
                      signal.SIGINT)
        try:
            first_done = p.wait(timeout=RUN_LIMIT) == 0
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            failed.append("trial %d: %s job: still running %d s after "
                          "it was interrupted" % (i, job, RUN_LIMIT))
            first_done = False
        wait_gone(kids)
        files = candidates(jd, out)
        if not files:
            rmtree(jd)
            if out:
                rmtree(out)
            continue
        # A kind first, then a file of it: rare kinds get their turn.
        kind = rng.choice(sorted(set(k for k, _ in files)))
        path = rng.choice([f for k, f in files if k == kind])
        seen_needed = must_see(kind, path, jd, out)
        size = os.path.getsize(path)
        how, off = damage(path)
        kinds[kind] = kinds.get(kind, 0) + 1
        before = damaged_events(jd)
        kill = rng.uniform(0.05, 0.3) if rng.random() < 0.5 else None
        rc, stdout, err = run(c, kill)
        what = "%s %s (%s at %d), %s job%s%s" % (
            kind, os.path.relpath(path), how, off, job,
            " -o" if use_o else "", ", a worker killed" if kill else "")
        text = err.decode(errors="replace")
        named = rc == 1 and "damaged" in text and \
            os.path.relpath(path, jd) in text
        if named:
            # A failure that names the file: allowed, where nothing says
            # what to produce again (a journal whose first line is hit
            # in the job's id before any checkpoint was written).
            clear.append(what)
        elif rc != 0:
            failed.append("%s: exit %d: %s" % (
                what, rc, text.strip()[-400:]))
        elif read_output(out, stdout) != expected[job, use_o]:
            wrong.append(what)
        events = damaged_events(jd)[len(before):]
        log.append("# trial %d: %s: exit %d; found: %s" % (
            i, what, rc, ", ".join(events) if events else "nothing"))
        if rc != 0:
            log.append("#   " + err.decode(errors="replace").strip()
                       .replace("\n", "\n#   ")[-600:])
        if events or named:
            # (A failure that names the file says it, not the events:
            # the directory it refuses is not written to.)
            seen += 1
        elif seen_needed and not (kind == "journal" and (
                how == "cut" or off == size - 1)) \
                and not (use_o and first_done):
            # (A journal cut, or with its last newline flipped, is one
            # that a crash cut short: its last line is done again,
            # unsaid.  An -o job that ended has nothing more to read.)
            unseen.append(what)
        rmtree(jd)
        if out:
            rmtree(out)

    print("1..4")
    print("# %d trials, seed %d; damaged: %s" % (TRIALS, SEED, ", ".join(
        "%s %d" % kv for kv in sorted(kinds.items()))))
    print("# detections in the events: %d; wrong outputs: %d; failed "
          "runs: %d; failures naming the damaged file: %d"
          % (seen, len(wrong), len(failed), len(clear)))
    for line in log:
        print(line)
    for w in wrong:
        print("# wrong: " + w)
    for f in failed:
        print("# failed: " + f)
    for u in unseen:
        print("# not seen: " + u)
    print("%s 1 - no wrong output" % ("ok" if not wrong else "not ok"))
    print("%s 2 - every damaged job resumes to its result, or fails "
          "naming the file" % ("ok" if not failed else "not ok"))
    print("%s 3 - damage the resumed run reads shows in the events" %
          ("ok" if not unseen else "not ok"))
    print("%s 4 - some damage was found (%d of %d trials)" % (
        "ok" if seen > 0 or TRIALS < 5 else "not ok", seen, TRIALS))


main()
