#!/bin/sh
# A Hadoop Streaming word count mapper: each word of the input, lower-cased,
# with a count of 1, as "word<TAB>1" lines.
tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | awk 'NF { print $0 "\t1" }'
