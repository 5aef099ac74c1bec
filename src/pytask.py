# forkflow: see LICENSE.
# The runner of forkflow mapreduce: a task.py's mapper and reducer, spoken
# to in the streaming protocol, one interpreter per process.  forkflow
# builtin pytask runs it as `python3 -c` with its role and the folder of
# task.py:
#
#   map:    the lines of standard input are the process's part of a file
#           (forkflow starts one process per file); they are cut into
#           chunks of about FORKFLOW_SPLIT_SIZE bytes at line boundaries,
#           and mapper(doc_id, chunk) is called on each, doc_id the file's
#           path; each (key, value) it yields is written as a line.
#   reduce: the lines come sorted by key; reducer({key: [values]}) is
#           called once per key, and each (key, value) it yields is
#           written as JSON text, or as repr() what JSON cannot carry.
#
# Between the two, keys and values are text that sorts and groups: "J"
# and JSON for a string, a number, a boolean or None, else "P" and the
# object pickled, in base64.  Nothing here writes to standard output but
# records: what task.py prints goes to standard error, in its task's log.

import base64
import importlib.util
import io
import json
import math
import os
import pickle
import sys


def enc(x):
    if x is None or isinstance(x, (str, bool, int)) or (
            isinstance(x, float) and math.isfinite(x)):
        return "J" + json.dumps(x, ensure_ascii=False, separators=(",", ":"))
    return "P" + base64.b64encode(pickle.dumps(x, 4)).decode("ascii")


def dec(s):
    if s[:1] == "J":
        return json.loads(s[1:])
    return pickle.loads(base64.b64decode(s[1:]))


def show(x):
    try:
        return json.dumps(x, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True)
    except (TypeError, ValueError):
        return repr(x).replace("\t", " ").replace("\n", " ")


def pairs(what, got):
    if got is None:
        return
    for item in got:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            sys.exit("task.py: %s yielded %r, not a (key, value) pair"
                     % (what, item))
        yield item[0], item[1]


def load(folder):
    path = os.path.join(folder, "task.py")
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("task", path)
    task = importlib.util.module_from_spec(spec)
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        spec.loader.exec_module(task)
    finally:
        sys.stdout = out
    return task


def run_map(task, out):
    doc = os.environ.get("mapreduce_map_input_file", "")
    size = int(os.environ.get("FORKFLOW_SPLIT_SIZE", "0") or 0) or (1 << 26)
    chunk, n = [], 0

    def flush():
        text = "".join(chunk)
        chunk.clear()
        for k, v in pairs("mapper", task.mapper(doc, text)):
            out.write(enc(k) + "\t" + enc(v) + "\n")

    for line in io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8",
                                 errors="surrogateescape", newline="\n"):
        chunk.append(line)
        n += len(line)
        if n >= size:
            flush()
            n = 0
    if chunk:
        flush()


def run_reduce(task, out):
    key, values = None, []

    def flush():
        for k, v in pairs("reducer", task.reducer({dec(key): values})):
            out.write(show(k) + "\t" + show(v) + "\n")

    for line in io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8",
                                 errors="surrogateescape", newline="\n"):
        k, _, v = line.rstrip("\n").partition("\t")
        if k != key and key is not None:
            flush()
            values = []
        key = k
        values.append(dec(v))
    if key is not None:
        flush()


def main():
    role, folder = sys.argv[1], sys.argv[2]
    task = load(folder)
    # Buffered whatever PYTHONUNBUFFERED says: a write per pair would
    # cost a system call each.
    raw = io.FileIO(sys.stdout.fileno(), "wb", closefd=False)
    out = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding="utf-8",
                           errors="surrogateescape", newline="\n")
    sys.stdout = sys.stderr
    if role == "map":
        run_map(task, out)
    else:
        run_reduce(task, out)
    out.flush()


main()
