#!/usr/bin/env python3
# Malformed requests to forkflow serve (issue 15), as a careless or hostile
# client would send them, on its unix socket: truncated JSON, random bytes,
# invalid UTF-8, NUL bytes, JSON that is not an object, another version, a
# missing or unknown op, every field of every op missing or of a wrong type,
# deep nesting, lines over 1 MiB, connections closed in the middle of a
# request or before their answers are read, a request sent a byte at a
# time, a hundred connections left open half-way through a request.
#
# Each well-formed-but-wrong request (and each line that is not JSON) must
# get one answer, a JSON object on one line with "v": 1, "ok": false and a
# non-empty "error", and the connection must stay open: the requests of a
# batch are sent one after the other on one connection, then a ping, and
# the answers must come back in order.  After each batch, a ping on a new
# connection must be answered, by the same pid every time.  A line over
# 1 MiB gets an error and the connection is closed.
#
# Usage: serve-malformed.py SOCKET [--seed N] [--count N]
#   prints "ok NAME" or "not ok NAME: why" for each of the checks below
#   (CHECKS), "sent N" and "pid N" (the pid of every ping's answer, or
#   "pid mixed ..." when they differ); exits 0 when every check passed.
# Usage: serve-malformed.py SOCKET --request JSON
#   sends the one line JSON and prints the answer's line (for the tests of
#   who may do what); exits 0 when an answer came, 3 when none did.

import json
import random
import socket
import sys
import time

CHECKS = ["notjson", "nul", "notobject", "version", "op", "submit-fields",
          "id-fields", "nesting", "oversized", "prompt-close", "closed",
          "pipelined",
          "ping", "count"]
TIMEOUT = 10.0
LINE_MAX = 1 << 20


class Conn:
    """A connection to the service, read a line at a time."""

    def __init__(self, path, timeout=TIMEOUT):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        """The next line, without its newline; None at end of file;
        socket.timeout when none came in time."""
        while b"\n" not in self.buf:
            try:
                b = self.s.recv(65536)
            except ConnectionResetError:
                b = b""
            if not b:
                return None
            self.buf += b
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def parse_answer(line):
    """The answer's object, or a string saying what is wrong with it."""
    if line is None:
        return "no answer (connection closed)"
    try:
        o = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return "an answer that is not JSON (%s): %r" % (e, line[:200])
    if not isinstance(o, dict):
        return "an answer that is not an object: %r" % line[:200]
    if o.get("v") != 1 or isinstance(o.get("v"), bool):
        return "an answer without \"v\": 1: %r" % line[:200]
    return o


def is_error(line):
    """None if line is an error answer, else why not."""
    o = parse_answer(line)
    if isinstance(o, str):
        return o
    if o.get("ok") is not False:
        return "\"ok\" is not false: %r" % line[:200]
    if not isinstance(o.get("error"), str) or not o["error"]:
        return "no \"error\" message: %r" % line[:200]
    return None


def is_pong(line):
    """The pid of a ping's answer, or a string saying what is wrong."""
    o = parse_answer(line)
    if isinstance(o, str):
        return o
    if o.get("ok") is not True or not isinstance(o.get("pid"), int) or \
            not isinstance(o.get("version"), str):
        return "not a ping's answer: %r" % line[:200]
    return o["pid"]


PING = b'{"v":1,"op":"ping"}'


class Run:
    def __init__(self, path, seed):
        self.path = path
        self.rng = random.Random(seed)
        self.fail = {c: [] for c in CHECKS}
        self.sent = 0
        self.pids = set()

    def bad(self, check, why):
        self.fail[check].append(why)

    def ping(self, after):
        """A ping on a new connection must be answered."""
        try:
            c = Conn(self.path)
            c.send(PING + b"\n")
            r = is_pong(c.line())
            c.close()
        except OSError as e:
            r = "%s" % e
        if isinstance(r, str):
            self.bad("ping", "after %s: %s" % (after, r))
            return False
        self.pids.add(r)
        return True

    def batch(self, check, reqs):
        """Send reqs (lines without their newline) on one connection, one
        after the other, then a ping: each must get an error answer, in
        order, and the ping its answer."""
        self.sent += len(reqs)
        try:
            c = Conn(self.path)
            c.send(b"".join(r + b"\n" for r in reqs) + PING + b"\n")
            for r in reqs:
                why = is_error(c.line())
                if why is not None:
                    self.bad(check, "%r: %s" % (r[:120], why))
                    c.close()
                    return
            r = is_pong(c.line())
            if isinstance(r, str):
                self.bad(check, "the ping after the batch on the same "
                         "connection: %s" % r)
            c.close()
        except OSError as e:
            self.bad(check, "batch of %d, the first %r: %s" %
                     (len(reqs), reqs[0][:120], e))
        self.ping("a batch of %s" % check)

    def one_by_one(self, check, reqs):
        """Each request, then a ping, on one connection: an error answer,
        then the ping's."""
        self.sent += len(reqs)
        try:
            c = Conn(self.path)
            for r in reqs:
                c.send(r + b"\n")
                why = is_error(c.line())
                if why is not None:
                    self.bad(check, "%r: %s" % (r[:120], why))
                    c.close()
                    c = Conn(self.path)
                    continue
                c.send(PING + b"\n")
                p = is_pong(c.line())
                if isinstance(p, str):
                    self.bad(check, "a ping after %r on the same "
                             "connection: %s" % (r[:120], p))
                    c.close()
                    c = Conn(self.path)
            c.close()
        except OSError as e:
            self.bad(check, "%s" % e)
        self.ping("the requests of %s" % check)


def dumps(o):
    return json.dumps(o, separators=(",", ":")).encode()


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[1] == "--request":
        try:
            c = Conn(args[0])
            c.send(args[2].encode() + b"\n")
            line = c.line()
        except OSError as e:
            print("serve-malformed.py: %s" % e, file=sys.stderr)
            return 3
        if line is None:
            return 3
        sys.stdout.buffer.write(line + b"\n")
        return 0
    if not args:
        print("usage: serve-malformed.py SOCKET [--seed N] [--count N]\n"
              "       serve-malformed.py SOCKET --request JSON",
              file=sys.stderr)
        return 2
    path, seed, count = args[0], 1, 1000
    i = 1
    while i < len(args):
        if args[i] == "--seed":
            seed = int(args[i + 1])
        elif args[i] == "--count":
            count = int(args[i + 1])
        else:
            print("serve-malformed.py: unknown option %s" % args[i],
                  file=sys.stderr)
            return 2
        i += 2
    run = Run(path, seed)
    rng = run.rng
    if not run.ping("nothing"):
        for c in CHECKS:
            print("not ok %s: the service does not answer a ping" % c)
        return 1

    # The well-formed requests that the wrong ones are made of.  Their job
    # numbers are of no job (a "wait" of a job that runs would wait).
    prog = '{"operations": [{"operator": "map", "expr": "v"}]}'
    submit = {"v": 1, "op": "submit", "program": prog,
              "program_name": "job.json", "program_dir": "/",
              "args": ["-i", "/dev/null", "-p", "1"], "cwd": "/",
              "env": ["PATH=/usr/bin:/bin"], "partitions": 1, "inputs": []}
    nojob = 987654321
    bases = [submit, {"v": 1, "op": "jobs", "all": True},
             {"v": 1, "op": "ping"}] + \
        [{"v": 1, "op": op, "id": nojob}
         for op in ("status", "cancel", "wait", "logs", "output")]

    # --- Not JSON: truncated, garbage, random bytes, bad UTF-8, NULs ---
    reqs = []
    for b in bases:
        t = dumps(b)
        for _ in range(12):
            reqs.append(t[:rng.randrange(1, len(t))])
    for b in bases:
        t = dumps(b)
        # Invalid UTF-8 inside a string, and outside any.
        for bad in (b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80",
                    b"\xf8\x88\x80\x80\x80", b"\x80"):
            q = t.index(b'"op":"') + 6
            reqs.append(t[:q] + bad + t[q:])
            reqs.append(t[:-1] + b"," + bad + b"}")
        # Trailing garbage, two objects on a line.
        reqs.append(t + b" x")
        reqs.append(t + t)
    reqs += [b"x", b" ", b"\t", b"{", b"}", b"[", b"]", b'"', b"nul",
             b"{'v': 1, 'op': 'ping'}", b"{v:1,op:ping}",
             b'{"v":1,"op":"ping",}', b'{"v":1 "op":"ping"}',
             b'{"v":1,"op":"pi\\ng"', b'{"v":01,"op":"ping"}',
             b'{"v":1,"op":"\\ud800"}', b"\r",
             b'{"v":1,"op":"ping"}}', b'{"v":1,"op":"ping"]',
             b'{"v":1e999999,"op":"ping"}',
             b'{"v":123456789012345678901234567890,"op":"ping"}']
    ninvalid = len(reqs)
    # Random bytes, no newline among them, up to count in all.
    nrandom = max(300, count - ninvalid - 450)
    for _ in range(nrandom):
        n = rng.randrange(1, 300)
        reqs.append(bytes(rng.choice([b for b in range(256) if b != 10])
                          for _ in range(n)))
    rng.shuffle(reqs)
    for k in range(0, len(reqs), 50):
        run.batch("notjson", reqs[k:k + 50])

    # --- Raw NUL bytes: the line is not JSON, wherever they are (after a
    # number or a literal too, which some parsers take for the end) ---
    reqs = [b"\0", b"\0" * 100, PING + b"\0", b"\0" + PING,
            b'{"v":1\0,"op":"ping"}', b'{"v":1,"op":"ping"\0}',
            b'{"v":1,"op":"jobs","all":true\0}',
            b'{"v":1,"op":"jobs","all":false\0}',
            b'{"v":1,"op":"status","id":1\0}',
            b'{"v":1,"op":"pi\0ng"}', b'{"v":1,"op\0":"ping"}']
    for b in bases:
        t = dumps(b)
        for _ in range(4):
            k = rng.randrange(0, len(t) + 1)
            reqs.append(t[:k] + b"\0" + t[k:])
    run.one_by_one("nul", reqs)

    # --- JSON, not an object ---
    reqs = [b"[]", b"{}", b"[" + PING + b"]", b"1", b"-1.5", b'"ping"',
            b"null", b"true", b"false", b'["v", 1, "op", "ping"]',
            b"[[[]]]", b'"' + PING.replace(b'"', b'\\"') + b'"']
    run.one_by_one("notobject", reqs)
    run.batch("notobject", reqs)

    # --- The version: missing, another, of another type ---
    reqs = []
    for b in bases:
        for v in (None, 2, 0, -1, "1", True, [1], {"v": 1}, 1.5, 2 ** 40):
            o = dict(b)
            if v is None:
                del o["v"]
            else:
                o["v"] = v
            reqs.append(dumps(o))
        o = dict(b)
        o["v"] = None
        reqs.append(dumps(o))
    run.batch("version", reqs)

    # --- The op: missing, unknown, of another type ---
    reqs = []
    for op in (None, 5, 1.5, True, "", "PING", "Ping", "nope", "ping ",
               " ping", "submit\u0000", "ping\u0000", ["ping"],
               {"op": "ping"}, "null", "run", "delete", "\u00e9"):
        o = {"v": 1}
        if op is not None:
            o["op"] = op
        reqs.append(dumps(o))
    reqs.append(b'{"v":1,"op":null}')
    run.one_by_one("op", reqs)
    run.batch("op", reqs)

    # --- Every field of submit: missing, or of another type ---
    wrong = {
        "string": [5, -1, 1.5, None, True, False, [], {}, ["x"],
                   {"a": "b"}],
        "list": ["x", "", 5, 1.5, None, True, {}, {"0": "x"}],
        "integer": ["1", "", 1.5, None, True, [], {}, [1], {"n": 1}],
    }
    kinds = {"program": "string", "program_name": "string",
             "program_dir": "string", "args": "list", "cwd": "string",
             "env": "list", "partitions": "integer", "inputs": "list"}
    reqs = []
    for field, kind in sorted(kinds.items()):
        o = dict(submit)
        del o[field]
        reqs.append(dumps(o))
        for w in wrong[kind]:
            o = dict(submit)
            o[field] = w
            reqs.append(dumps(o))
    # The members of the lists.
    for field, w in [("args", [5]), ("args", [None]), ("args", [["-p"]]),
                     ("args", ["-p", 1]), ("args", [{"-p": "1"}]),
                     ("env", [5]), ("env", [None]), ("env", ["NOEQUALS"]),
                     ("env", [["A=B"]]), ("env", [{"A": "B"}]),
                     ("inputs", [5]), ("inputs", ["/dev/null"]),
                     ("inputs", [None]), ("inputs", [[]]),
                     ("inputs", [{"path": 5, "size": 1, "mtime": 0}]),
                     ("inputs", [{"size": 1, "mtime": 0}]),
                     ("inputs", [{"path": "/dev/null", "mtime": 0}]),
                     ("inputs", [{"path": "/dev/null", "size": 1}]),
                     ("inputs", [{"path": "/dev/null", "size": "1",
                                  "mtime": 0}]),
                     ("inputs", [{"path": "/dev/null", "size": 1,
                                  "mtime": "0"}]),
                     ("inputs", [{"path": "/dev/null", "size": 1.5,
                                  "mtime": 0}]),
                     ("inputs", [{"path": None, "size": 1, "mtime": 0}]),
                     ("cwd", "relative/dir"), ("cwd", ""),
                     ("program_dir", "relative"), ("program_dir", "")]:
        o = dict(submit)
        o[field] = w
        reqs.append(dumps(o))
    run.one_by_one("submit-fields", reqs)
    run.batch("submit-fields", reqs)

    # --- The id of status, cancel, wait, logs, output; jobs' all ---
    reqs = []
    for op in ("status", "cancel", "wait", "logs", "output"):
        reqs.append(dumps({"v": 1, "op": op}))
        for w in ("x", "1", "", 1.5, None, True, False, [], [1], {},
                  {"id": 1}, 0, -1, -nojob, nojob, 2 ** 62):
            reqs.append(dumps({"v": 1, "op": op, "id": w}))
        reqs.append(b'{"v":1,"op":"%s","id":1e400}' % op.encode())
        reqs.append(b'{"v":1,"op":"%s","id":99999999999999999999999}' %
                    op.encode())
    for w in ("true", "yes", "", 1, 0, 1.5, None, [], [True], {}):
        reqs.append(dumps({"v": 1, "op": "jobs", "all": w}))
    run.one_by_one("id-fields", reqs)
    run.batch("id-fields", reqs)

    # --- Deep nesting: must not bring the service down ---
    deep = [b"[" * 100000, b"{\"a\":" * 50000,
            b'{"v":1,"op":"ping","x":' + b"[" * 200000 + b"]" * 200000 +
            b"}",
            b'{"v":1,"op":"submit","args":' + b"[" * 100000 + b"]" * 100000
            + b"}",
            b'{"v":1,"op":"ping","x":' + b'{"a":' * 100000 + b"1" +
            b"}" * 100000 + b"}",
            b'{"v":1,"op":' + b"[" * 300000 + b"}"]
    for d in deep:
        run.sent += 1
        try:
            c = Conn(run.path)
            c.send(d + b"\n" + PING + b"\n")
            line = c.line()
            o = parse_answer(line)
            if isinstance(o, str):
                run.bad("nesting", "%r...: %s" % (d[:40], o))
            elif d.count(b"[") + d.count(b"{") != \
                    d.count(b"]") + d.count(b"}") and o.get("ok") is not \
                    False:
                run.bad("nesting", "%r...: not an error: %r" %
                        (d[:40], line[:200]))
            else:
                p = is_pong(c.line())
                if isinstance(p, str):
                    run.bad("nesting", "the ping after %r...: %s" %
                            (d[:40], p))
            c.close()
        except OSError as e:
            run.bad("nesting", "%r...: %s" % (d[:40], e))
        run.ping("a deeply nested request")

    # --- Lines over 1 MiB: an error, then the connection is closed ---
    def padded_ping(n):
        head = b'{"v":1,"op":"ping","pad":"'
        return head + b"p" * (n - len(head) - 2) + b'"}'

    def oversized(desc, data):
        """Send data: its first answer must be an error, then the
        connection must be closed, within 1 s ("prompt-close"), or at
        least once another connection has woken the service ("oversized")."""
        run.sent += 1
        try:
            c = Conn(run.path)
            try:
                c.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            why = is_error(c.line())
            if why is not None:
                run.bad("oversized", "%s: %s" % (desc, why))
            else:
                c.s.settimeout(1.0)
                try:
                    rest = c.line()
                except socket.timeout:
                    run.bad("prompt-close", "%s: the connection is still "
                            "open 1 s after the error" % desc)
                    run.ping(desc)
                    c.s.settimeout(TIMEOUT)
                    rest = c.line()
                if rest is not None:
                    run.bad("oversized", "%s: the connection stays open "
                            "after the error, and answers %r" %
                            (desc, rest[:200]))
            c.close()
        except socket.timeout:
            run.bad("oversized", "%s: no answer, or not closed, in %d s" %
                    (desc, TIMEOUT))
        except OSError as e:
            run.bad("oversized", "%s: %s" % (desc, e))
        run.ping(desc)

    oversized("a ping of 1 MiB + 1000 bytes, then a ping",
              padded_ping(LINE_MAX + 1000) + b"\n" + PING + b"\n")
    oversized("2 MiB of garbage, then a newline",
              b"x" * (2 * LINE_MAX) + b"\n")
    oversized("5 MiB of one JSON string, then a newline",
              b'{"v":1,"op":"ping","pad":"' + b"a" * (5 * LINE_MAX) +
              b'"}\n')
    # A ping, then a line of 1 MiB + 1 byte: the ping's answer, the error,
    # and the end.
    run.sent += 1
    try:
        c = Conn(run.path)
        try:
            c.send(PING + b"\n" + padded_ping(LINE_MAX + 1) + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        p = is_pong(c.line())
        why = is_error(c.line())
        if isinstance(p, str):
            run.bad("oversized", "a ping before a line of 1 MiB + 1 byte: "
                    "%s" % p)
        elif why is not None:
            run.bad("oversized", "a line of 1 MiB + 1 byte: %s" % why)
        else:
            run.ping("a line of 1 MiB + 1 byte")
            if c.line() is not None:
                run.bad("oversized", "a line of 1 MiB + 1 byte: the "
                        "connection stays open after the error")
        c.close()
    except OSError as e:
        run.bad("oversized", "a line of 1 MiB + 1 byte: %s" % e)
    run.ping("a line of 1 MiB + 1 byte")
    # 3 MiB without a newline, then the connection closed.
    run.sent += 1
    try:
        c = Conn(run.path)
        try:
            c.send(b"{" * (3 * LINE_MAX))
        except (BrokenPipeError, ConnectionResetError):
            pass
        c.close()
    except OSError as e:
        run.bad("oversized", "3 MiB without a newline: %s" % e)
    run.ping("3 MiB without a newline, then closed")
    # Under the limit, a long request is answered.
    try:
        c = Conn(run.path)
        c.send(padded_ping(LINE_MAX - 1000) + b"\n")
        p = is_pong(c.line())
        if isinstance(p, str):
            run.bad("oversized", "a ping of 1 MiB - 1000 bytes: %s" % p)
        c.close()
    except OSError as e:
        run.bad("oversized", "a ping of 1 MiB - 1000 bytes: %s" % e)

    # --- Connections closed in the middle of a request, or before their
    # answers are read (the service must not die of SIGPIPE) ---
    for b in bases * 4:
        t = dumps(b)
        run.sent += 1
        try:
            c = Conn(run.path)
            c.send(t[:rng.randrange(1, len(t))])
            if rng.random() < 0.5:
                c.s.shutdown(socket.SHUT_WR)
                try:
                    c.line()
                except socket.timeout:
                    run.bad("closed", "a request cut short, then "
                            "shutdown: the connection is still open after "
                            "%d s" % TIMEOUT)
            c.close()
        except OSError as e:
            run.bad("closed", "a request cut short: %s" % e)
    run.ping("requests cut short")
    for k in range(20):
        run.sent += 20
        try:
            c = Conn(run.path)
            reqs = [PING] * 10 + [b"garbage"] * 10 + \
                [dumps({"v": 1, "op": "jobs", "all": True})] * 10 + \
                [dumps({"v": 1, "op": "status", "id": nojob})] * 10
            rng.shuffle(reqs)
            c.send(b"\n".join(reqs) + b"\n")
            if k % 2:
                # A reset rather than an orderly close.
                c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                               b"\1\0\0\0\0\0\0\0")
            c.close()
        except OSError as e:
            run.bad("closed", "requests whose answers are not read: %s" % e)
    time.sleep(0.2)
    run.ping("requests whose answers are not read")
    # A request a byte at a time is answered.
    try:
        c = Conn(run.path)
        for ch in b'{"v":1,"op":"status","id":%d}\n' % nojob:
            c.send(bytes([ch]))
        why = is_error(c.line())
        if why is not None:
            run.bad("closed", "a wrong request a byte at a time: %s" % why)
        for ch in PING + b"\n":
            c.send(bytes([ch]))
        p = is_pong(c.line())
        if isinstance(p, str):
            run.bad("closed", "a ping a byte at a time: %s" % p)
        c.close()
    except OSError as e:
        run.bad("closed", "a request a byte at a time: %s" % e)
    # A hundred connections each half-way through a request: the service
    # still answers another.
    held = []
    try:
        for k in range(100):
            c = Conn(run.path)
            c.send(PING[:rng.randrange(1, len(PING))])
            held.append(c)
    except OSError as e:
        run.bad("closed", "100 connections open at once: %s" % e)
    run.ping("100 connections half-way through a request")
    for c in held:
        c.close()
    run.ping("100 connections closed half-way through a request")

    # --- Several requests on one connection, the good among the bad ---
    try:
        c = Conn(run.path)
        seq = []
        for k in range(50):
            if rng.random() < 0.5:
                seq.append((PING, True))
            else:
                seq.append((rng.choice([b"{", b"[]", b'{"v":2,"op":"ping"}',
                                        b'{"v":1}', b'{"v":1,"op":"x"}']),
                            False))
        run.sent += sum(1 for _, good in seq if not good)
        c.send(b"".join(r + b"\n" for r, _ in seq))
        for r, good in seq:
            line = c.line()
            if good:
                p = is_pong(line)
                if isinstance(p, str):
                    run.bad("pipelined", "after %r: %s" % (r, p))
                    break
            else:
                why = is_error(line)
                if why is not None:
                    run.bad("pipelined", "%r: %s" % (r, why))
                    break
        c.close()
    except OSError as e:
        run.bad("pipelined", "%s" % e)
    run.ping("several requests on one connection")

    if run.sent < count:
        run.bad("count", "only %d malformed requests sent" % run.sent)
    if len(run.pids) > 1:
        run.bad("ping", "answered by several pids: %s" %
                " ".join(str(p) for p in sorted(run.pids)))
    failed = 0
    for c in CHECKS:
        if run.fail[c]:
            failed += 1
            print("not ok %s: %d failures; the first: %s" %
                  (c, len(run.fail[c]), run.fail[c][0]))
            for why in run.fail[c][1:5]:
                print("#   also: %s" % why)
        else:
            print("ok %s" % c)
    print("sent %d" % run.sent)
    if len(run.pids) == 1:
        print("pid %d" % run.pids.pop())
    else:
        print("pid mixed %s" % " ".join(str(p) for p in sorted(run.pids)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
