#!/usr/bin/env python3
"""Share of perf samples whose stack contains each pattern (patterns may overlap).

Usage: perf-inclusive.py script.txt 'sync_file_range' 'malloc|_int_free' ..."""
import re, sys
pats = [a for a in sys.argv[2:]]
comp = [(p, re.compile(p)) for p in pats]
counts = {p: 0 for p in pats}
total = 0
stack = []
def flush():
    global total
    if not stack:
        return
    total += 1
    for p, c in comp:
        if any(c.search(f) for f in stack):
            counts[p] += 1
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        flush(); stack.clear(); continue
    if line.startswith((" ", "\t")):
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            stack.append(parts[1])
flush()
print(f"{total} samples")
for p in pats:
    print(f"{100*counts[p]/total:6.1f} %  {p}")
