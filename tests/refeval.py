#!/usr/bin/env python3
"""refeval.py: a reference evaluator for forkflow programs, and a generator
of random programs and inputs for the differential test t-random.sh.

It shares no code with forkflow: it has its own reader for programs and
inputs, its own parser for the expression language (C's precedence), and
computes in Python integers reduced to int64 after every operation.

    refeval.py eval PROGRAM [INPUT...]
        Print PROGRAM's result on INPUT (default: the program's "input")
        as sorted "k,v" lines.  Exit 1 on a division by zero at run time,
        2 on an invalid program or input.
    refeval.py gen SEED COUNT DIR
        Write COUNT random cases to DIR/001 ... : prog.json, its input files,
        expect.status (0, or 1 when the job must fail with a division by
        zero) and expect.out, and desc (a one-line summary).
    refeval.py selftest
        Check the evaluator against hand-computed values.
"""

import json
import os
import random
import sys

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
MASK = (1 << 64) - 1


def wrap(x):
    """Reduce a Python integer to int64, two's complement."""
    x &= MASK
    return x - (1 << 64) if x >> 63 else x


class ProgramError(Exception):
    pass


class InputError(Exception):
    pass


class DivZero(Exception):
    pass


# ---------------------------------------------------------------------------
# Expressions.  A node is a tuple:
#   ('num', n)  ('var', 'k'|'v')  ('neg', a)  ('not', a)  ('abs', a)
#   ('bin', op, a, b), op one of + - * / % < <= > >= == != && || min max
#   ('cond', c, a, b)

PREC = {'||': 1, '&&': 2, '==': 3, '!=': 3, '<': 4, '<=': 4, '>': 4,
        '>=': 4, '+': 5, '-': 5, '*': 6, '/': 6, '%': 6}
# The binary operators of Gen.chain(), arithmetic more often.
CHAIN_OPS = ['+', '-', '*'] * 4 + ['/', '%'] * 2 + ['<', '<=', '>', '>=',
                                                 '==', '!=', '&&', '||']
TWO_CHAR = ('<=', '>=', '==', '!=', '&&', '||')
ONE_CHAR = '+-*/%<>!?:(),'


def tokenize(src):
    """Tokens of an expression: (kind, text, offset), kind num/id/op/end."""
    toks = []
    i, n = 0, len(src)
    while True:
        while i < n and src[i] in ' \t\r\n':
            i += 1
        if i >= n:
            toks.append(('end', '', i))
            return toks
        c = src[i]
        if c.isdigit() and c.isascii():
            j = i
            while j < n and src[j].isascii() and src[j].isdigit():
                j += 1
            if j < n and (src[j].isascii() and
                          (src[j].isalnum() or src[j] == '_')):
                raise ProgramError('invalid integer literal at %d' % i)
            if src[i] == '0' and j - i > 1:
                raise ProgramError('leading zero at %d' % i)
            toks.append(('num', src[i:j], i))
            i = j
        elif c.isascii() and (c.isalpha() or c == '_'):
            j = i
            while j < n and src[j].isascii() and (src[j].isalnum() or
                                                  src[j] == '_'):
                j += 1
            toks.append(('id', src[i:j], i))
            i = j
        elif src[i:i + 2] in TWO_CHAR:
            toks.append(('op', src[i:i + 2], i))
            i += 2
        elif c in ONE_CHAR:
            toks.append(('op', c, i))
            i += 1
        else:
            raise ProgramError('unexpected %r at %d' % (c, i))


class Parser:
    """Recursive descent: cond > || > && > == != > < <= > >= > + - >
    * / % > unary - ! + > primary."""

    def __init__(self, src):
        self.toks = tokenize(src)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, text):
        t = self.take()
        if t[0] != 'op' or t[1] != text:
            raise ProgramError('expected %r at %d' % (text, t[2]))

    def parse(self):
        if self.peek()[0] == 'end':
            raise ProgramError('empty expression')
        e = self.cond()
        if self.peek()[0] != 'end':
            raise ProgramError('unexpected %r at %d' % self.peek()[1:])
        return e

    def cond(self):
        c = self.binary(1)
        if self.peek()[0:2] != ('op', '?'):
            return c
        self.take()
        a = self.cond()
        self.expect(':')
        b = self.cond()
        return ('cond', c, a, b)

    def binary(self, minprec):
        a = self.unary()
        while True:
            t = self.peek()
            if t[0] != 'op' or PREC.get(t[1], 0) < minprec:
                return a
            self.take()
            b = self.binary(PREC[t[1]] + 1)
            a = ('bin', t[1], a, b)

    def unary(self):
        t = self.peek()
        if t[0] == 'op' and t[1] in '-!+':
            self.take()
            if t[1] == '-' and self.peek()[0] == 'num':
                n = int(self.take()[1])
                if n > 1 << 63:
                    raise ProgramError('integer literal out of range')
                return ('num', wrap(-n))
            a = self.unary()
            if t[1] == '+':
                return a
            return ('neg' if t[1] == '-' else 'not', a)
        return self.primary()

    def primary(self):
        t = self.take()
        if t[0] == 'num':
            n = int(t[1])
            if n > INT64_MAX:
                raise ProgramError('integer literal out of range')
            return ('num', n)
        if t[0] == 'id':
            if t[1] in ('k', 'v'):
                return ('var', t[1])
            if t[1] in ('abs', 'min', 'max'):
                self.expect('(')
                a = self.cond()
                if t[1] == 'abs':
                    self.expect(')')
                    return ('abs', a)
                self.expect(',')
                b = self.cond()
                self.expect(')')
                return ('bin', t[1], a, b)
            raise ProgramError('unknown identifier %r' % t[1])
        if t[:2] == ('op', '('):
            e = self.cond()
            self.expect(')')
            return e
        raise ProgramError('unexpected %r at %d' % (t[1], t[2]))


def div(a, b):
    """C's division on int64: truncates; INT64_MIN / -1 is INT64_MIN."""
    if b == 0:
        raise DivZero()
    if a == INT64_MIN and b == -1:
        return INT64_MIN
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def mod(a, b):
    """C's remainder: a - (a / b) * b, sign of a; INT64_MIN % -1 is 0."""
    if b == 0:
        raise DivZero()
    if b == -1:
        return 0
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def ev(e, k, v):
    """Evaluate a node with C's short-circuit rules."""
    t = e[0]
    if t == 'num':
        return e[1]
    if t == 'var':
        return k if e[1] == 'k' else v
    if t == 'neg':
        return wrap(-ev(e[1], k, v))
    if t == 'not':
        return int(ev(e[1], k, v) == 0)
    if t == 'abs':
        return wrap(abs(ev(e[1], k, v)))
    if t == 'cond':
        return ev(e[2], k, v) if ev(e[1], k, v) != 0 else ev(e[3], k, v)
    op = e[1]
    if op == '&&':
        return int(ev(e[2], k, v) != 0 and ev(e[3], k, v) != 0)
    if op == '||':
        return int(ev(e[2], k, v) != 0 or ev(e[3], k, v) != 0)
    a = ev(e[2], k, v)
    b = ev(e[3], k, v)
    if op == '+':
        return wrap(a + b)
    if op == '-':
        return wrap(a - b)
    if op == '*':
        return wrap(a * b)
    if op == '/':
        return div(a, b)
    if op == '%':
        return mod(a, b)
    if op == 'min':
        return min(a, b)
    if op == 'max':
        return max(a, b)
    return int({'<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b,
                '==': a == b, '!=': a != b}[op])


def has_var(e):
    if e[0] == 'var':
        return True
    return any(isinstance(x, tuple) and has_var(x) for x in e[1:])


def check_const_div(e):
    """Refuse a division by a variable-free divisor that is zero."""
    if e[0] == 'bin' and e[1] in '/%' and not has_var(e[3]):
        try:
            d = ev(e[3], 0, 0)
        except DivZero:
            d = 0
        if d == 0:
            raise ProgramError('division by constant zero')
    for x in e[1:]:
        if isinstance(x, tuple):
            check_const_div(x)


def parse_expr(src):
    e = Parser(src).parse()
    check_const_div(e)
    return e


# ---------------------------------------------------------------------------
# Programs.

def norm(name):
    return name.lower().replace('_', '').replace('-', '')


UNARY = {'add': '+', 'sub': '-', 'mul': '*', 'div': '/', 'mod': '%'}
FILTERS = {'gt': '>', 'ge': '>=', 'lt': '<', 'le': '<=', 'eq': '==',
           'ne': '!='}
REDUCES = {'sum': 'SUM', 'add': 'SUM', 'prod': 'PROD', 'min': 'MIN',
           'max': 'MAX', 'count': 'COUNT'}


def load_program(path):
    """Read a program into (ops, inputs); an op is (kind, node-or-name)."""
    with open(path, encoding='utf-8') as f:
        prog = json.load(f)
    on_key = norm(prog.get('changeKeyOn', 'value')) == 'key'
    ops = []
    for o in prog['operations']:
        kind = norm(o['operator'])
        if kind not in ('map', 'filter', 'changekey', 'reduce'):
            raise ProgramError('unknown operator %r' % o['operator'])
        if 'expr' in o:
            if kind == 'reduce':
                raise ProgramError('reduce takes a function')
            ops.append((kind, parse_expr(o['expr'])))
            continue
        fn = norm(o['function'])
        if kind == 'reduce':
            ops.append((kind, REDUCES[fn]))
            continue
        var = ('var', 'k' if kind == 'changekey' and on_key else 'v')
        if kind == 'filter' and fn in ('even', 'odd'):
            node = ('bin', '==' if fn == 'even' else '!=',
                    ('bin', '%', var, ('num', 2)), ('num', 0))
        else:
            table = FILTERS if kind == 'filter' else UNARY
            if fn not in table:
                raise ProgramError('unknown function %r' % o['function'])
            arg = o['arg']
            if not isinstance(arg, int) or isinstance(arg, bool):
                raise ProgramError('arg must be an integer')
            node = ('bin', table[fn], var, ('num', arg))
            check_const_div(node)
        ops.append((kind, node))
    spec = prog.get('input', [])
    if isinstance(spec, str):
        spec = [spec]
    base = os.path.dirname(path)
    inputs = [s if s == '-' or os.path.isabs(s) else os.path.join(base, s)
              for s in spec]
    return ops, inputs


def run_ops(ops, pairs):
    """Run the operators over a list of (k, v); raises DivZero."""
    for kind, f in ops:
        if kind == 'map':
            pairs = [(k, ev(f, k, v)) for k, v in pairs]
        elif kind == 'filter':
            pairs = [(k, v) for k, v in pairs if ev(f, k, v) != 0]
        elif kind == 'changekey':
            pairs = [(ev(f, k, v), v) for k, v in pairs]
        else:
            groups = {}
            for k, v in pairs:
                groups.setdefault(k, []).append(v)
            pairs = [(k, aggregate(f, vs)) for k, vs in groups.items()]
    return sorted(pairs)


def aggregate(fn, vs):
    if fn == 'COUNT':
        return len(vs)
    if fn == 'MIN':
        return min(vs)
    if fn == 'MAX':
        return max(vs)
    acc = 0 if fn == 'SUM' else 1
    for x in vs:
        acc = wrap(acc + x) if fn == 'SUM' else wrap(acc * x)
    return acc


def format_pairs(pairs):
    return ''.join('%d,%d\n' % kv for kv in pairs)


# ---------------------------------------------------------------------------
# Input: k SEP v per line, SEP ',' ';' tab or spaces (with spaces around),
# CRLF, a BOM and one header line at the start of a file, blank lines.

def parse_int(s):
    t = s[1:] if s[:1] in '+-' else s
    if not t.isascii() or not t.isdigit():
        raise InputError('not an integer: %r' % s)
    n = int(s)
    if n < INT64_MIN or n > INT64_MAX:
        raise InputError('out of range: %r' % s)
    return n


def parse_line(line):
    s = line.strip(' \t')
    if s == '':
        return None
    for sep in (',', ';'):
        if sep in s:
            a, _, b = s.partition(sep)
            return parse_int(a.strip(' \t')), parse_int(b.strip(' \t'))
    parts = s.replace('\t', ' ').split()
    if len(parts) != 2:
        raise InputError('malformed line: %r' % line)
    return parse_int(parts[0]), parse_int(parts[1])


def read_input(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    lines = data.decode('ascii').split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    pairs = []
    for i, line in enumerate(lines):
        if line.endswith('\r'):
            line = line[:-1]
        try:
            kv = parse_line(line)
        except InputError:
            s = line.lstrip(' \t')
            if i == 0 and not (s[:1].isdigit() or
                               (s[:1] in '+-' and s[1:2].isdigit())):
                continue        # the header
            raise InputError('%s:%d: %r' % (path, i + 1, line))
        if kv is not None:
            pairs.append(kv)
    return pairs


def expand_inputs(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += [os.path.join(p, n) for n in sorted(os.listdir(p))
                      if not n.startswith('.') and
                      os.path.isfile(os.path.join(p, n))]
        else:
            files.append(p)
    return files


def cmd_eval(args):
    if not args:
        sys.exit('usage: refeval.py eval PROGRAM [INPUT...]')
    try:
        ops, inputs = load_program(args[0])
        pairs = []
        for path in expand_inputs(args[1:] or inputs):
            pairs += read_input(path)
    except (ProgramError, InputError, KeyError, ValueError) as e:
        print('refeval: %s' % e, file=sys.stderr)
        return 2
    try:
        out = run_ops(ops, pairs)
    except DivZero:
        print('refeval: division by zero', file=sys.stderr)
        return 1
    sys.stdout.write(format_pairs(out))
    return 0


# ---------------------------------------------------------------------------
# Random programs.

def show(e, rnd, compact):
    """Print a node with C's precedence: parentheses only where needed,
    and now and then where they are not."""
    sp = '' if compact else ' '

    def prec(x):
        if x[0] == 'cond':
            return 0
        if x[0] == 'bin' and x[1] in PREC:
            return PREC[x[1]]
        if x[0] in ('neg', 'not'):
            return 7
        if x[0] == 'num' and x[1] < 0:
            return 7        # "-5" is a minus and a literal
        return 9

    def sub(x, need):
        s = show(x, rnd, compact)
        if need or rnd.random() < 0.08:
            return '(' + s + ')'
        return s

    t = e[0]
    if t == 'num':
        return str(e[1])
    if t == 'var':
        return e[1]
    if t in ('neg', 'not'):
        # -(5) is a minus applied to 5; -5 would be the literal.
        s = sub(e[1], prec(e[1]) < 7 or (e[1][0] == 'num' and e[1][1] >= 0))
        op = '-' if t == 'neg' else '!'
        return op + (' ' if op == '-' and s.startswith('-') else '') + s
    if t == 'abs':
        return 'abs(' + show(e[1], rnd, compact) + ')'
    if t == 'cond':
        return (sub(e[1], prec(e[1]) < 1) + sp + '?' + sp +
                sub(e[2], False) + sp + ':' + sp + sub(e[3], False))
    op = e[1]
    if op in ('min', 'max'):
        return (op + '(' + show(e[2], rnd, compact) + ',' + sp +
                show(e[3], rnd, compact) + ')')
    p = PREC[op]
    return (sub(e[2], prec(e[2]) < p) + sp + op + sp +
            sub(e[3], prec(e[3]) <= p))


def group(operands, ops):
    """The tree of operands[0] ops[0] operands[1] ... with C's precedence
    (all the operators left-associative)."""
    out, stack = [operands[0]], []

    def reduce_top():
        y, x = out.pop(), out.pop()
        out.append(('bin', stack.pop(), x, y))

    for op, b in zip(ops, operands[1:]):
        while stack and PREC[stack[-1]] >= PREC[op]:
            reduce_top()
        stack.append(op)
        out.append(b)
    while stack:
        reduce_top()
    return out[0]


class Gen:
    """Random programs and inputs from one seeded generator."""

    def __init__(self, rnd):
        self.r = rnd

    def literal(self, nonzero=False):
        r = self.r
        x = r.random()
        if x < 0.7:
            n = r.randint(-20, 20)
        elif x < 0.8:
            n = r.choice([INT64_MIN, INT64_MAX, INT64_MIN + 1, -1, 1])
        elif x < 0.9:
            n = r.randint(-(10 ** 6), 10 ** 6)
        else:
            n = r.randint(INT64_MIN, INT64_MAX)
        if nonzero and n == 0:
            n = r.choice([1, -1, 2, 3, 7])
        return ('num', n)

    def simple_divisor(self):
        """A divisor that may be zero, but that no folding makes constant."""
        r = self.r
        c = r.randint(-5, 10)
        return r.choice([('var', 'k'), ('var', 'v'),
                         ('bin', '-', ('var', 'k'), ('num', c)),
                         ('bin', '-', ('var', 'v'), ('num', c)),
                         ('bin', '%', ('var', 'v'), ('num', r.choice([2, 3, 5]))),
                         ('bin', '-', ('var', 'v'), ('var', 'k'))])

    def leaf(self):
        x = self.r.random()
        if x < 0.35:
            return ('var', 'v')
        if x < 0.6:
            return ('var', 'k')
        return self.literal()

    def small(self):
        """k, v or a small literal, which keep a chain's value sensitive."""
        r = self.r
        x = r.random()
        if x < 0.3:
            return ('var', 'v')
        if x < 0.6:
            return ('var', 'k')
        return ('num', r.choice([-1, 1]) * r.randint(2, 30))

    def logic(self):
        """Comparisons that hold for about half the pairs, joined by && and
        || (now and then == or !=) as precedence groups them:
        k > 2 || v < 0 && k != 5, or k < 3 == v > 2."""
        r = self.r
        operands, ops = [], []
        for i in range(r.randint(3, 5)):
            if i > 0:
                ops.append(r.choice(['&&', '||'] * 4 + ['==', '!=']))
            if r.random() < 0.5:
                operands += [('var', 'k'), ('num', r.randint(-2, 10))]
            else:
                operands += [('var', 'v'), ('num', r.randint(-50, 50))]
            ops.append(r.choice(['<', '<=', '>', '>='] * 2 + ['==', '!=']))
        return group(operands, ops)

    def chain(self, depth):
        """Operands and binary operators in a row, grouped as C does, so
        that precedence decides the value: a + b * c < d ..."""
        r = self.r
        ops = [r.choice(CHAIN_OPS) for _ in range(r.randint(3, 5))]
        operands = [self.small() if r.random() < 0.7 else self.expr(depth)]
        for op in ops:
            if op in '/%':
                operands.append(self.divisor(depth))
            elif r.random() < 0.7:
                operands.append(self.small())
            else:
                operands.append(self.expr(depth))
        return group(operands, ops)

    def expr(self, depth):
        r = self.r
        if depth <= 0 or r.random() < 0.2:
            return self.leaf()
        x = r.random()
        d = depth - 1
        if r.random() < 0.15:
            return self.logic()
        if r.random() < 0.45:
            return self.chain(d)
        if x < 0.45:
            op = r.choice(['+', '-', '*', '+', '-', '<', '<=', '>', '>=',
                           '==', '!=', '&&', '||', 'min', 'max'])
            return ('bin', op, self.expr(d), self.expr(d))
        if x < 0.6:
            return ('bin', r.choice('/%'), self.expr(d), self.divisor(d))
        if x < 0.7:
            return (r.choice(['neg', 'not', 'abs']), self.expr(d))
        if x < 0.8:
            return ('cond', self.expr(d), self.expr(d), self.expr(d))
        if x < 0.9:
            # A guard that a division must not be evaluated past.
            s = self.simple_divisor()
            q = ('bin', r.choice('/%'), self.expr(d), s)
            y = r.random()
            if y < 0.4:
                return ('cond', ('bin', '!=', s, ('num', 0)), q,
                        self.expr(d))
            if y < 0.7:
                return ('cond', ('bin', '==', s, ('num', 0)),
                        self.expr(d), q)
            if y < 0.85:
                return ('bin', '&&', ('bin', '!=', s, ('num', 0)),
                        ('bin', r.choice(['>', '<', '!=']), q,
                         self.literal()))
            return ('bin', '||', ('bin', '==', s, ('num', 0)),
                    ('bin', r.choice(['>', '<', '==']), q, self.literal()))
        return self.literal() if r.random() < 0.5 else ('var', 'v')

    def divisor(self, depth):
        """A divisor that is never zero, whatever forkflow folds."""
        r = self.r
        x = r.random()
        if x < 0.5:
            return self.literal(nonzero=True)
        if x < 0.8:
            e = self.expr(depth)
            return ('cond', ('bin', '==', e, ('num', 0)),
                    self.literal(nonzero=True), e)
        return ('bin', 'max', ('abs', self.expr(depth)), ('num', 1))

    def key_expr(self):
        """A new key: often few distinct ones, so that reduces group."""
        r = self.r
        e = self.expr(r.randint(1, 3))
        if not has_var(e):
            e = ('bin', '+', e, ('var', r.choice('kv')))
        if r.random() < 0.7:
            e = ('bin', '%', e, ('num', r.choice([2, 3, 5, 7, 10, 100])))
        return e

    def named(self, kind):
        r = self.r
        if kind == 'filter':
            fn = r.choice(['GT', 'GE', 'LT', 'LE', 'NE', 'EVEN', 'ODD'] * 3 +
                          ['EQ'])
            if fn in ('EVEN', 'ODD'):
                return {'function': fn}
            if r.random() < 0.7:
                return {'function': fn, 'arg': r.randint(-10, 10)}
            return {'function': fn, 'arg': self.literal()[1]}
        fn = r.choice(['ADD', 'SUB', 'MUL', 'DIV', 'MOD'])
        if fn in ('DIV', 'MOD'):
            arg = r.choice([-1, 1, 2, 3, 5, 7, 10, -3, 1000, INT64_MIN,
                            INT64_MAX])
        else:
            arg = self.literal()[1]
        return {'function': fn, 'arg': arg}

    def operator(self, kind, compact):
        r = self.r
        name = {'changekey': 'changeKey'}.get(kind, kind)
        if kind == 'reduce':
            fn = r.choice(['SUM', 'PROD', 'MIN', 'MAX', 'COUNT', 'SUM', 'ADD'])
            return {'operator': name, 'function': fn}
        if r.random() < 0.4:
            o = {'operator': name}
            o.update(self.named(kind))
            return o
        if kind == 'changekey':
            e = self.key_expr()
        elif kind == 'filter' and r.random() < 0.5:
            e = self.logic()
        elif kind == 'filter' and r.random() < 0.5:
            # Something that keeps a fair share of the pairs.
            e = ('bin', r.choice(['!=', '>', '<=']),
                 ('bin', '%', self.chain(r.randint(0, 2)),
                  ('num', r.choice([2, 3, 5]))), ('num', 0))
        elif r.random() < 0.15:
            e = self.logic()
        elif r.random() < 0.6:
            e = self.chain(r.randint(0, 2))
        else:
            e = self.expr(r.randint(1, 4))
        if kind == 'filter' and not has_var(e):
            e = ('bin', '!=', ('var', 'v'), e)
        return {'operator': name, 'expr': show(e, r, compact), 'tree': e}

    def risky(self):
        """An operator that divides by something that may well be zero."""
        r = self.r
        q = ('bin', r.choice('/%'), r.choice([('var', 'v'), ('var', 'k'),
                                              self.literal()]),
             self.simple_divisor())
        kind = r.choice(['map', 'filter', 'changekey'])
        if kind == 'changekey':
            e = q
        elif r.random() < 0.5:
            e = ('bin', '+', q, self.expr(1))
        else:
            e = q
        name = {'changekey': 'changeKey'}.get(kind, kind)
        return {'operator': name, 'expr': show(e, r, False), 'tree': e}

    def program(self):
        r = self.r
        kinds = []
        for _ in range(0 if r.random() < 0.04 else r.randint(1, 6)):
            kinds.append(r.choice(['map', 'filter', 'changekey', 'reduce',
                                   'map', 'reduce']))
        if r.random() < 0.3:
            kinds += ['changekey', 'reduce']
        # More than two filters leave too little to look at.
        for i in [i for i, k in enumerate(kinds) if k == 'filter'][2:]:
            kinds[i] = 'map'
        # An expression last shows in the output whatever it computes.
        if r.random() < 0.5:
            kinds.append('map')
        compact = r.random() < 0.3
        ops = [self.operator(k, compact) for k in kinds]
        risky = r.random() < 0.12
        if risky:
            ops.insert(r.randint(0, len(ops)), self.risky())
        prog = {}
        if r.random() < 0.3:
            prog['partitions'] = r.randint(1, 4)
        x = r.random()
        if x < 0.3:
            prog['changeKeyOn'] = 'key'
        elif x < 0.5:
            prog['changeKeyOn'] = 'value'
        prog['operations'] = ops
        return prog, risky

    def number(self, small):
        r = self.r
        x = r.random()
        if x < 0.6:
            return r.randint(-small, small)
        if x < 0.75:
            return r.choice([INT64_MIN, INT64_MAX, INT64_MIN + 1,
                             INT64_MAX - 1, 0, -1])
        if x < 0.85:
            return r.randint(-(10 ** 9), 10 ** 9)
        return r.randint(INT64_MIN, INT64_MAX)

    def pairs(self):
        r = self.r
        x = r.random()
        if x < 0.04:
            n = 0
        elif x < 0.1:
            n = r.randint(1, 3)
        elif x < 0.2:
            n = r.randint(1000, 5000)     # more than one batch
        else:
            n = r.randint(20, 300)
        nkeys = r.randint(1, 15)
        out = []
        for _ in range(n):
            if r.random() < 0.9:
                k = r.randint(-3, nkeys)
            else:
                k = self.number(1000)
            out.append((k, self.number(100)))
        return out

    def signed(self, n, plus):
        if plus and n >= 0 and self.r.random() < 0.5:
            return '+%d' % n
        return '%d' % n

    def write_file(self, path, pairs):
        """Write pairs in a random one of the accepted formats."""
        r = self.r
        sep = r.choice([',', ',', ';', '\t', ' ', ', ', ' ; ', '  '])
        eol = '\r\n' if r.random() < 0.15 else '\n'
        text = ''
        if r.random() < 0.15:
            text += 'key' + sep.strip(' ') + 'value' + eol \
                if sep.strip(' ') else 'key value' + eol
        plus = r.random() < 0.1         # an optional sign
        for k, v in pairs:
            if r.random() < 0.03:
                text += eol
            text += '%s%s%s%s' % (self.signed(k, plus), sep,
                                  self.signed(v, plus),
                                  ' ' if r.random() < 0.05 else '') + eol
        if pairs and r.random() < 0.15:
            text = text[:-len(eol)]
        data = text.encode('ascii')
        if r.random() < 0.1:
            data = b'\xef\xbb\xbf' + data
        with open(path, 'wb') as f:
            f.write(data)

    def case(self, d):
        r = self.r
        prog, risky = self.program()
        pairs = self.pairs()
        os.makedirs(d)
        x = r.random()
        if x < 0.6:
            prog['input'] = 'input.csv'
            self.write_file(os.path.join(d, 'input.csv'), pairs)
        else:
            nf = r.randint(2, 4)
            cuts = sorted(r.randint(0, len(pairs)) for _ in range(nf - 1))
            parts = [pairs[a:b] for a, b in zip([0] + cuts, cuts +
                                                 [len(pairs)])]
            if x < 0.8:
                prog['input'] = ['in%d.csv' % i for i in range(nf)]
                names = [os.path.join(d, n) for n in prog['input']]
            else:
                prog['input'] = 'in'
                os.makedirs(os.path.join(d, 'in'))
                names = [os.path.join(d, 'in', 'part%d' % i)
                         for i in range(nf)]
            for name, part in zip(names, parts):
                self.write_file(name, part)
        trees = [o.pop('tree', None) for o in prog['operations']]
        # Key order in the file: partitions, input, changeKeyOn, operations.
        order = ['partitions', 'input', 'changeKeyOn', 'operations']
        prog = {key: prog[key] for key in order if key in prog}
        path = os.path.join(d, 'prog.json')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(prog, f, indent=None if r.random() < 0.3 else 2)
            f.write('\n')
        # The reference reads the program and inputs back as forkflow does;
        # its parser must give back the trees the generator made.
        ops, inputs = load_program(path)
        for (kind, node), tree in zip(ops, trees):
            if tree is not None and node != tree:
                raise AssertionError('parser/printer mismatch: %r != %r' %
                                     (node, tree))
        got = []
        for p in expand_inputs(inputs):
            got += read_input(p)
        if sorted(got) != sorted(pairs):
            raise AssertionError('input reader mismatch in %s' % d)
        try:
            out = format_pairs(run_ops(ops, pairs))
            st = 0
        except DivZero:
            out = ''
            st = 1
        with open(os.path.join(d, 'expect.out'), 'w') as f:
            f.write(out)
        with open(os.path.join(d, 'expect.status'), 'w') as f:
            f.write('%d\n' % st)
        with open(os.path.join(d, 'desc'), 'w') as f:
            f.write('%d ops, %d pairs%s%s\n' % (
                len(ops), len(pairs), ', risky' if risky else '',
                ', fails' if st else ''))


def cmd_gen(args):
    if len(args) != 3:
        sys.exit('usage: refeval.py gen SEED COUNT DIR')
    seed, count, top = int(args[0]), int(args[1]), args[2]
    for i in range(1, count + 1):
        # Each case has its own generator, so case i does not depend on
        # COUNT.
        g = Gen(random.Random('%d/%d' % (seed, i)))
        g.case(os.path.join(top, '%03d' % i))
    return 0


# ---------------------------------------------------------------------------

SELFTEST = [
    # expression, k, v, value (None: division by zero)
    ('1 + 2 * 3', 0, 0, 7),
    ('(1 + 2) * 3', 0, 0, 9),
    ('10 - 4 - 3', 0, 0, 3),
    ('100 / 10 / 5', 0, 0, 2),
    ('-7 / 2', 0, 0, -3),
    ('-7 % 2', 0, 0, -1),
    ('7 % -2', 0, 0, 1),
    ('7 / -2', 0, 0, -3),
    ('v / -1', 0, INT64_MIN, INT64_MIN),
    ('v % -1', 0, INT64_MIN, 0),
    ('v + 1', 0, INT64_MAX, INT64_MIN),
    ('v - 1', 0, INT64_MIN, INT64_MAX),
    ('v * 2', 0, INT64_MAX, -2),
    ('-v', 0, INT64_MIN, INT64_MIN),
    ('abs(v)', 0, INT64_MIN, INT64_MIN),
    ('abs(v)', 0, -5, 5),
    ('-9223372036854775808', 0, 0, INT64_MIN),
    ('- -9223372036854775807', 0, 0, INT64_MAX),
    ('1 < 2 == 1', 0, 0, 1),
    ('3 > 2 > 1', 0, 0, 0),
    ('1 + 1 == 2 && 0 || 1', 0, 0, 1),
    ('0 || 0 && 1', 0, 0, 0),
    ('1 || 0 && 0', 0, 0, 1),
    ('!0 + 1', 0, 0, 2),
    ('!5', 0, 0, 0),
    ('-2 * -3', 0, 0, 6),
    ('1 ? 2 : 0 ? 3 : 4', 0, 0, 2),
    ('0 ? 2 : 0 ? 3 : 4', 0, 0, 4),
    ('0 ? 1 : 2 + 3', 0, 0, 5),
    ('k ? v / k : -1', 0, 9, -1),
    ('k != 0 && v / k > 1', 0, 9, 0),
    ('k == 0 || v % k', 0, 9, 1),
    ('v / k', 0, 9, None),
    ('min(k, v) * max(k, v)', -3, 4, -12),
    ('min(v, k - 1)', 5, 9, 4),
    ('v < 0 ? -v : v', 0, -8, 8),
    ('2 + 3 * 4 % 5 - 6 / 4', 0, 0, 3),
    ('-v % 3', 0, 7, -1),
    ('k * 1000000007 + v', 123456789012, 5, wrap(123456789012 * 1000000007
                                                  + 5)),
]


def cmd_selftest(args):
    bad = 0
    for src, k, v, want in SELFTEST:
        try:
            got = ev(Parser(src).parse(), k, v)
        except DivZero:
            got = None
        if got != want:
            print('selftest: %s with k=%d v=%d: got %r, want %r' %
                  (src, k, v, got, want))
            bad += 1
    ops = [('reduce', 'SUM')]
    pairs = [(1, INT64_MAX), (1, INT64_MAX), (2, 3)]
    if run_ops(ops, pairs) != [(1, -2), (2, 3)]:
        print('selftest: SUM does not wrap')
        bad += 1
    if run_ops([('reduce', 'PROD')], [(1, 1 << 62), (1, 4), (1, 3)]) != \
            [(1, 0)]:
        print('selftest: PROD does not wrap')
        bad += 1
    if run_ops([('reduce', 'COUNT'), ('reduce', 'SUM')],
               [(1, 5), (1, 5), (2, 7)]) != [(1, 2), (2, 1)]:
        print('selftest: COUNT')
        bad += 1
    if parse_line(' -9223372036854775808 ; 9223372036854775807 ') != \
            (INT64_MIN, INT64_MAX):
        print('selftest: int64 extremes')
        bad += 1
    for bad_src in ('v / 0', 'v % (2 - 2)', 'v +', '(v', 'x', '01',
                    '9223372036854775808'):
        try:
            parse_expr(bad_src)
            print('selftest: %r accepted' % bad_src)
            bad += 1
        except ProgramError:
            pass
    return 1 if bad else 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = {'eval': cmd_eval, 'gen': cmd_gen, 'selftest': cmd_selftest}
    if sys.argv[1] not in cmd:
        sys.exit(__doc__)
    sys.exit(cmd[sys.argv[1]](sys.argv[2:]))


if __name__ == '__main__':
    main()
