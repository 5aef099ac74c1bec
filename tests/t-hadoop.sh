#!/bin/sh
# Hadoop Streaming's command line as Hadoop documents it, each job checked
# against an independent computation (Python, awk, sort) on a corpus made
# here: -reducer aggregate with each of its prefixes; -files with #links
# and -archives (tar.gz and zip) in the commands' folder; -cmdenv and the
# properties the commands see as variables; a Hadoop XML -conf, and -D in
# both spellings winning over it; the map and reduce output field
# separators and key fields; -input globs and comma lists; IdentityMapper
# and IdentityReducer; -lazyOutput; NLineInputFormat (a process per group
# of lines, keyed by offset); and what is refused, with its reason
# (Java classes, -io typedbytes, other formats, a glob matching nothing,
# malformed XML with its line and column).

# shellcheck source=tests/lib.sh
. "${SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	skip_all "no python3 for the expected results"
fi

plan 51

mkdir "$T/in"
# Lines of words, numbers and a category, of our own making.
awk 'BEGIN {
	srand(11);
	split("apple pear fig plum kiwi lime date", w, " ");
	for (f = 1; f <= 3; f++) {
		file = sprintf("'"$T"'/in/log%d.txt", f);
		for (l = 0; l < 2000; l++)
			printf "%s %d %s\n", w[1 + int(rand() * 7)],
			    int(rand() * 1000) - 300,
			    w[1 + int(rand() * 7)] > file;
		close(file);
	}
}'
echo "not an input" >"$T/in/notes.md"

# ff_stream OUT ARGS...: forkflow streaming into $T/OUT, parts in $T/out.
ff_stream() {
	_o=$1
	shift
	rm -rf "${T:?}/$_o"
	status=0
	(cd "$T" && "$FORKFLOW" streaming -output "$_o" -q "$@") \
	    >"$T/stdout" 2>"$T/err" || status=$?
	if [ -d "$T/$_o" ]; then
		cat "$T/$_o"/part-* | LC_ALL=C sort >"$T/out"
	else
		: >"$T/out"
	fi
}

# --- aggregate, each prefix, against Python --------------------------------
cat >"$T/agg_map.py" <<'EOF'
import sys
for line in sys.stdin:
    word, n, cat = line.split()
    print("LongValueSum:sum_%s\t%s" % (word, n))
    print("LongValueMax:max_%s\t%s" % (word, n))
    print("LongValueMin:min_%s\t%s" % (word, n))
    print("StringValueMax:smax_%s\t%s" % (word, cat))
    print("StringValueMin:smin_%s\t%s" % (word, cat))
    print("UniqValueCount:uniq_%s\t%s" % (word, cat))
    print("ValueHistogram:hist_%s\t%s" % (word, cat))
    print("DoubleValueSum:dsum_%s\t%s" % (word, n))
EOF
python3 - "$T"/in/log*.txt >"$T/agg.want" <<'EOF'
import sys, math, collections
g = collections.defaultdict(list)
for path in sys.argv[1:]:
    for line in open(path):
        w, n, c = line.split()
        g[w].append((int(n), c))
def jd(d):
    # Java's Double.toString for the figures here.
    r = repr(float(d))
    if 'e' in r or 'E' in r:
        m, e = r.lower().split('e')
        if '.' not in m: m += '.0'
        return m + 'E' + str(int(e))
    return r
out = []
for w, v in g.items():
    ns = [n for n, _ in v]; cs = [c for _, c in v]
    out.append("sum_%s\t%d" % (w, sum(ns)))
    out.append("max_%s\t%d" % (w, max(ns)))
    out.append("min_%s\t%d" % (w, min(ns)))
    out.append("smax_%s\t%s" % (w, max(cs)))
    out.append("smin_%s\t%s" % (w, min(cs)))
    out.append("uniq_%s\t%d" % (w, len(set(cs))))
    counts = sorted(collections.Counter(cs).values())
    avg = sum(counts) / len(counts)
    sd = math.sqrt(sum((x - avg) ** 2 for x in counts) / len(counts))
    out.append("hist_%s\t%d\t%d\t%d\t%d\t%s\t%s" % (w, len(counts),
        counts[0], counts[len(counts) // 2], counts[-1], jd(avg), jd(sd)))
    out.append("dsum_%s\t%s" % (w, jd(float(sum(ns)))))
for line in sorted(out, key=lambda s: s.encode()):
    print(line)
EOF
for p in 1 3; do
	ff_stream agg -input 'in/log*.txt' -mapper "python3 agg_map.py" \
	    -file "$T/agg_map.py" -reducer aggregate -numReduceTasks "$p"
	check_status "-reducer aggregate, -numReduceTasks $p: exit 0" 0 &&
	    check_file "aggregate's eight prefixes equal Python's, $p" \
	    "$T/agg.want" "$T/out"
done
check "aggregate wrote 3 parts and _SUCCESS" \
    test -f "$T/agg/part-00002" -a -f "$T/agg/_SUCCESS"

# --- -files with a link, -archives tar.gz and zip ------------------------------
mkdir -p "$T/pack/stop"
printf 'pear\nfig\n' >"$T/pack/stop/words"
(cd "$T/pack" && tar czf ../stop.tgz stop)
python3 -c "
import zipfile, sys
z = zipfile.ZipFile(sys.argv[1], 'w')
z.writestr('stop/words', 'kiwi\n')
z.close()" "$T/stop.zip"
cat >"$T/filter.sh" <<'EOF'
#!/bin/sh
# Drop the words of both stop lists; count the rest.
cat tgz/stop/words stop.zip/stop/words >stoplist
awk 'NR == FNR { stop[$1] = 1; next } !($1 in stop) { print $1 "\t1" }' \
    stoplist -
EOF
chmod +x "$T/filter.sh"
ff_stream arch -input in/log1.txt -mapper flt \
    -files "$T/filter.sh#flt" -archives "$T/stop.tgz#tgz,$T/stop.zip" \
    -reducer 'awk -F"\t" "{ n[\$1] += \$2 } END { for (w in n) print w \"\t\" n[w] }"'
awk '$1 != "pear" && $1 != "fig" && $1 != "kiwi" { n[$1]++ }
    END { for (w in n) print w "\t" n[w] }' "$T/in/log1.txt" |
    LC_ALL=C sort >"$T/arch.want"
check_status "-files F#link and -archives: exit 0" 0 &&
    check_file "-archives unpacked (tar.gz, zip), -files linked by name" \
    "$T/arch.want" "$T/out"

# Each task has a folder of its own, as in Hadoop: what a mapper leaves in
# its folder is not in the reducer's, nor in another mapper's.
ff_stream tasks -input in -files "$T/filter.sh#flt" -numReduceTasks 2 \
    -mapper 'ls; cat >/dev/null; echo "$mapreduce_task_id" >left-by-map' \
    -reducer 'cat; ls'
printf 'flt\t\n' >"$T/tasks.want"
uniq "$T/out" >"$T/tasks.got"
check_status "a job whose tasks leave files: exit 0" 0 &&
    check_file "each task's folder holds the links and nothing of another's" \
    "$T/tasks.want" "$T/tasks.got"

# --- -cmdenv and properties as variables -------------------------------------------
ff_stream env -input in/log1.txt -numReduceTasks 0 --partitions 1 \
    -mapper 'echo "$GREETING $my_threshold"; cat >/dev/null' \
    -cmdenv GREETING=hello -D my.threshold=7 -Dmapreduce.job.reduces=0
echo "hello 7	" >"$T/env.want"
check_file "-cmdenv and -D reach the command (dots as _)" \
    "$T/env.want" "$T/out"
check_err "a property forkflow does not use is named in a warning" \
    "my.threshold: not a property forkflow acts on"

# --- -conf, with -D winning; key fields and separators ----------------------
cat >"$T/job.xml" <<'EOF'
<?xml version="1.0"?>
<configuration>
  <property>
    <name>mapreduce.job.reduces</name><value>4</value>
    <description>overridden below by -D</description>
  </property>
  <property><name>stream.map.output.field.separator</name><value>.</value></property>
  <property><name>stream.num.map.output.key.fields</name><value>2</value></property>
</configuration>
EOF
# The mapper writes word.sign.n; the key is word.sign, the reducer sums n
# and writes key:sum, cut at ':' into key and value.
ff_stream conf -input in -conf "$T/job.xml" -D mapreduce.job.reduces=2 \
    -mapper 'awk "{ print \$1 \".\" (\$2 < 0 ? \"neg\" : \"pos\") \".\" \$2 }"' \
    -reducer 'awk -F"\t" "{ s[\$1] += \$2 } END { for (k in s) print k \":\" s[k] }"' \
    -D stream.reduce.output.field.separator=: -input "$T/in/notes.md"
awk '{ k = $1 "." ($2 < 0 ? "neg" : "pos"); s[k] += $2 }
    END { for (k in s) print k "\t" s[k] }' "$T"/in/log*.txt >"$T/conf.tmp"
printf 'not.pos\t0\n' >>"$T/conf.tmp"
LC_ALL=C sort "$T/conf.tmp" >"$T/conf.want"
check_status "-conf job.xml: exit 0" 0 &&
    check_file "map and reduce output separators and key fields" \
    "$T/conf.want" "$T/out"
check "-D mapreduce.job.reduces=2 wins over -conf's 4" \
    test -f "$T/conf/part-00001" -a ! -f "$T/conf/part-00002"

# --- globs, comma lists, IdentityMapper and IdentityReducer ------------------
ff_stream ident -input "in/log{1,2}.txt,in/log3.*" \
    -mapper org.apache.hadoop.mapred.lib.IdentityMapper \
    -reducer org.apache.hadoop.mapred.lib.IdentityReducer
# A line without a tab is all key: Hadoop writes it with a tab after.
cat "$T"/in/log*.txt | sed "s/$/	/" | LC_ALL=C sort >"$T/ident.want"
check_status "-input with {a,b} and a comma list: exit 0" 0 &&
    check_file "IdentityMapper and IdentityReducer pass every line" \
    "$T/ident.want" "$T/out"

# --- -lazyOutput ---------------------------------------------------------------------------
ff_stream lazy -input in/log1.txt -mapper 'echo one; cat >/dev/null' \
    -reducer cat -numReduceTasks 5 -lazyOutput
check "-lazyOutput: one part for the one key, no empty ones" \
    test "$(find "$T/lazy" -name 'part-*' | wc -l)" -eq 1
ff_stream nolazy -input in/log1.txt -mapper 'echo one; cat >/dev/null' \
    -reducer cat -numReduceTasks 5
check "without it, five parts" \
    test "$(find "$T/nolazy" -name 'part-*' | wc -l)" -eq 5

# --- secondary sort: KeyFieldBasedComparator and KeyFieldBasedPartitioner ---
# Keys of two fields (fruit, number): the reducer gets each fruit's lines
# together, numbers from the largest down, and keeps the first three.
cat >"$T/top3.sh" <<'EOF'
#!/bin/sh
awk -F '\t' '$1 != last { n = 0; last = $1 } n < 3 { n++; print }'
EOF
chmod +x "$T/top3.sh"
"$PYTHON3" -c 'import sys
rows = []
for f in sys.argv[1:]:
    for line in open(f):
        w, n, c = line.split()
        rows.append((w, int(n), c))
rows.sort(key=lambda r: (r[0], -r[1], r[2]))
out, seen = [], {}
for w, n, c in rows:
    seen[w] = seen.get(w, 0) + 1
    if seen[w] <= 3:
        out.append("%s\t%d\t%s" % (w, n, c))
for l in sorted(out, key=lambda s: s.encode()):
    print(l)' "$T"/in/log*.txt >"$T/top3.want"
for n in 1 3; do
	ff_stream top3 -input 'in/log*.txt' -mapper "awk '{ print \$1 \"\\t\" \$2 \"\\t\" \$3 }'" \
	    -reducer "$T/top3.sh" -numReduceTasks "$n" \
	    -D stream.num.map.output.key.fields=2 \
	    -D mapreduce.map.output.key.field.separator="$(printf '\t')" \
	    -partitioner org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner \
	    -D mapreduce.partition.keypartitioner.options=-k1,1 \
	    -D mapreduce.job.output.key.comparator.class=org.apache.hadoop.mapreduce.lib.partition.KeyFieldBasedComparator \
	    -D mapreduce.partition.keycomparator.options='-k1,1 -k2,2nr'
	check_file "secondary sort, $n reduces: each fruit's top three" \
	    "$T/top3.want" "$T/out"
done
ff_stream top3 -input 'in/log*.txt' -mapper "awk '{ print \$1 \"\\t\" \$2 \"\\t\" \$3 }'" \
    -reducer "$T/top3.sh" -combiner cat -numReduceTasks 2 \
    -D stream.num.map.output.key.fields=2 \
    -partitioner KeyFieldBasedPartitioner \
    -D mapreduce.partition.keypartitioner.options=-k1,1 \
    -D mapreduce.job.output.key.comparator.class=KeyFieldBasedComparator \
    -D mapreduce.partition.keycomparator.options='-k1,1 -k2,2nr' \
    --memory 1M
check_file "secondary sort with a combiner, spilling: the same" \
    "$T/top3.want" "$T/out"
ff_stream top3 -input in/log1.txt -mapper cat -reducer cat \
    -D mapreduce.partition.keycomparator.options=-k2,2n
check_err "comparator options without its class: a warning" \
    'keycomparator.options: taken only with mapreduce.job.output.key.comparator.class'

# mapreduce.output.textoutputformat.separator: the parts' separator.
ff_stream sep -input 'in/log*.txt' -mapper "awk '{ print \$1 \"\\t\" \$2 }'" \
    -reducer "awk -F '\\t' '{ s[\$1] += \$2 } END { for (k in s) print k \"\\t\" s[k] }'" \
    -numReduceTasks 2 -D mapreduce.output.textoutputformat.separator=' :: '
cat "$T"/in/log*.txt | awk '{ s[$1] += $2 } END { for (k in s) print k " :: " s[k] }' |
    LC_ALL=C sort >"$T/sep.want"
check_file "textoutputformat.separator: key, separator, value" \
    "$T/sep.want" "$T/out"

# --- what is refused, and why ----------------------------------------------------------
# --- NLineInputFormat: a map task per N lines, keyed by offset ----------------
# Each mapper process prints its first line (after its offset) and how many
# lines it had: the groups of 7 lines of each file, whatever the partitions
# and splits.  With N = 1 and cat, each line after its byte offset.
cat >"$T/group.sh" <<'EOF'
#!/bin/sh
awk '{ n++; if (n == 1) f = $0 } END { if (n) print f "\t" n }'
EOF
chmod +x "$T/group.sh"
python3 - 7 "$T"/in/log*.txt >"$T/nline.want" <<'EOF'
import sys
n = int(sys.argv[1])
for path in sys.argv[2:]:
    off, lines = 0, []
    for line in open(path, "rb"):
        lines.append((off, line.rstrip(b"\n").decode()))
        off += len(line)
    for i in range(0, len(lines), n):
        g = lines[i:i + n]
        print("%d\t%s\t%d" % (g[0][0], g[0][1], len(g)))
EOF
LC_ALL=C sort "$T/nline.want" -o "$T/nline.want"
for how in "-numReduceTasks 1" "-numReduceTasks 3" \
    "-numReduceTasks 2 --split-size 1000"; do
	# shellcheck disable=SC2086
	ff_stream nline -input 'in/log*.txt' -mapper ./group.sh -reducer NONE \
	    -inputformat org.apache.hadoop.mapred.lib.NLineInputFormat \
	    -D mapreduce.input.lineinputformat.linespermap=7 $how
	check_status "NLineInputFormat, 7 lines, $how: exit status" 0
	check_file "NLineInputFormat, 7 lines, $how: a process per group" \
	    "$T/nline.want" "$T/out"
done
python3 - "$T"/in/log*.txt <<'EOF' | LC_ALL=C sort >"$T/nline1.want"
import sys
for path in sys.argv[1:]:
    off = 0
    for line in open(path, "rb"):
        print("%d\t%s" % (off, line.rstrip(b"\n").decode()))
        off += len(line)
EOF
ff_stream nline1 -input 'in/log*.txt' -mapper cat -reducer NONE \
    -inputformat NLineInputFormat -numReduceTasks 2
check_file "NLineInputFormat, 1 line: each line after its offset" \
    "$T/nline1.want" "$T/out"

refused() {
	_desc=$1
	_pat=$2
	shift 2
	ff_stream refused -input in/log1.txt "$@"
	check_status "$_desc: exit 2" 2 && check_err "$_desc: says why" "$_pat"
	check "$_desc: no output" test ! -e "$T/refused"
}
refused "a Java class we do not have" "a Java class forkflow does not have" \
    -mapper com.example.WordMapper
refused "another comparator class" "sorts keys as bytes, or by their fields" \
    -mapper cat -reducer cat \
    -D mapreduce.job.output.key.comparator.class=com.example.MyComparator
refused "comparator options that are not" "sortKeys: \"-k2,x\": not options like -k1,1" \
    -mapper cat -reducer cat \
    -D mapreduce.job.output.key.comparator.class=KeyFieldBasedComparator \
    -D mapreduce.partition.keycomparator.options=-k2,x
refused "-io typedbytes" "lines of text only" -mapper cat -io typedbytes
refused "-inputformat SequenceFileInputFormat" "forkflow reads text" \
    -mapper cat -inputformat \
    org.apache.hadoop.mapred.SequenceFileInputFormat
refused "a glob matching nothing" "matches no file" -input 'in/*.csv' \
    -mapper cat
printf '<configuration>\n <property><name>a</name>\n <value>1</valu>\n' \
    >"$T/bad.xml"
refused "malformed -conf" "bad.xml:3:.*mismatched tag" -conf "$T/bad.xml" \
    -mapper cat
