#!/bin/sh
# A Hadoop Streaming word count reducer: its input comes sorted by word;
# it adds up the counts of each word (it serves as the combiner too).
awk -F'\t' '$1 != k { if (k != "") print k "\t" n; k = $1; n = 0 }
    { n += $2 } END { if (k != "") print k "\t" n }'
