#!/bin/sh
# forkflow mapreduce: Python's mapper(doc_id, chunk) and reducer(key_values)
# of a task.py, run over a folder of files.  An inverted index whose
# values are tuples (pickled between the two) and whose result is JSON,
# compared with the same functions applied by Python itself to the same
# files; the same bytes for 1 and 3 partitions and small splits, and after
# a worker is killed; doc_id is each file's own path; a task.py that
# raises fails the job with its traceback; a missing task.py is exit 2.

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	skip_all "no python3 for the task"
fi

plan 13

mkdir "$T/docs" "$T/code"
"$PYTHON3" -c 'import random, sys
r = random.Random(3)
words = ["w%d" % i for i in range(400)] + ["Alpha", "beta", "x\u00e9"]
for f in range(30):
    with open("%s/doc%02d.txt" % (sys.argv[1], f), "w") as out:
        for l in range(r.randrange(20, 200)):
            out.write(" ".join(r.choice(words) for _ in
                               range(r.randrange(1, 12))) + "\n")' "$T/docs"

cat >"$T/code/task.py" <<'EOF'
# An inverted index: each word, the documents it is in, and its count.
def mapper(doc_id, chunk):
    for word in chunk.split():
        yield word.lower(), (doc_id, 1)


def reducer(key_values):
    for word, hits in key_values.items():
        docs = sorted(set(d for d, _ in hits))
        yield word, {"docs": docs, "count": sum(n for _, n in hits)}
EOF

# The expected result: the same functions, called by Python on each whole
# file, every value of a word given to the reducer at once.
"$PYTHON3" -c 'import json, os, sys
sys.path.insert(0, sys.argv[2])
import task
groups = {}
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    path = os.path.join(d, name)
    with open(path, encoding="utf-8") as f:
        for k, v in task.mapper(path, f.read()):
            groups.setdefault(k, []).append(v)
lines = []
for k in groups:
    for k2, v2 in task.reducer({k: groups[k]}):
        lines.append(json.dumps(k2, ensure_ascii=False, separators=(",", ":"),
                                sort_keys=True) + "\t" +
                     json.dumps(v2, ensure_ascii=False, separators=(",", ":"),
                                sort_keys=True))
for l in sorted(lines, key=lambda s: s.encode()):
    print(l)' "$(cd "$T/docs" && pwd -P)" "$T/code" >"$T/want"

# mr OUT ARGS...: forkflow mapreduce into $T/OUT, its parts sorted in
# $T/got.
mr() {
	_o=$1
	shift
	rm -rf "${T:?}/$_o"
	status=0
	"$FORKFLOW" mapreduce -d "$T/docs" -c "$T/code" -o "$T/$_o" "$@" \
	    >"$T/out" 2>"$T/err" || status=$?
	cat "$T/$_o"/part-* 2>/dev/null | LC_ALL=C sort >"$T/got"
}

mr r1 --partitions 1 -q
check_status "inverted index, 1 partition: exit status" 0
check_file "inverted index, 1 partition: Python's own result" "$T/want" \
    "$T/got"
mr r3 --partitions 3 --split-size 4k -q
check_file "3 partitions, 4k splits: the same" "$T/want" "$T/got"
check "3 partitions: three parts and _SUCCESS" \
    test "$(cd "$T/r3" && echo *)" = "_SUCCESS part-00000 part-00001 part-00002"
mr rk --partitions 3 --inject-crash 1:1:50
check_file "a reducer's worker killed: the same" "$T/want" "$T/got"
check "a reducer's worker killed: restarted once" \
    test "$(count_lines "$T/err" 'restarting from checkpoint')" = 1

# doc_id is the path of the chunk's own file, for every file.
cat >"$T/code/task.py" <<'EOF'
import os
def mapper(doc_id, chunk):
    yield os.path.basename(doc_id), len(chunk.splitlines())


def reducer(key_values):
    for name, counts in key_values.items():
        yield name, sum(counts)
EOF
for f in "$T"/docs/*; do
	printf '"%s"\t%s\n' "${f##*/}" "$(wc -l <"$f" | tr -d ' ')"
done | LC_ALL=C sort >"$T/want.lines"
mr rd --partitions 2 --split-size 1k -q
check_file "doc_id: each file's lines counted under its own name" \
    "$T/want.lines" "$T/got"

# A task.py that raises: the job fails, saying what Python said.
cat >"$T/code/task.py" <<'EOF'
def mapper(doc_id, chunk):
    raise ValueError("no such thing as " + doc_id.split("/")[-1][:3])


def reducer(key_values):
    return []
EOF
mr rf --partitions 1 --max-attempts 1
check_status "a task.py that raises: exit 1" 1
check_err "a task.py that raises: Python's message" \
    'ValueError: no such thing as doc'
check "a task.py that raises: no output folder" test ! -e "$T/rf"

rm "$T/code/task.py"
mr rn --partitions 1
check_status "no task.py: exit 2" 2
check_err "no task.py: says so" "task.py"

check_no_jobdirs "no job directory left in TMPDIR"
