#!/usr/bin/env python3
"""A Hadoop Streaming word count reducer, in Python: its input is sorted
by word; it writes each word with the sum of its counts."""
import sys

word, total = None, 0
for line in sys.stdin:
    key, _, count = line.rstrip("\n").partition("\t")
    if key != word:
        if word is not None:
            print("%s\t%d" % (word, total))
        word, total = key, 0
    total += int(count or 0)
if word is not None:
    print("%s\t%d" % (word, total))
