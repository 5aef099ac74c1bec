#!/usr/bin/env python3
"""A Hadoop Streaming word count mapper, in Python: word<TAB>1 lines."""
import re
import sys

for line in sys.stdin:
    for word in re.findall(r"[A-Za-z]+", line):
        print(word.lower() + "\t1")
