#!/usr/bin/env python3
"""Extract the example blocks (.nf ... .fi) of dhcpd's manual pages into corpus files.

Usage: extract.py PAGE-NAME < page.5 > writes man-PAGE-NN.conf in the current directory.
Roff is undone: requests (lines starting with '.') are dropped, italic placeholders
(\\fI...\\fR, prose such as "subnet-specific parameters...") are removed, escapes decoded.
Blocks with no statement left (prose or pure placeholders) are skipped.
"""
import re, sys

name = sys.argv[1]
text = sys.stdin.read()
blocks, cur = [], None
for line in text.splitlines():
    if line.startswith('.nf'):
        cur = []
        continue
    if line.startswith('.fi'):
        if cur is not None:
            blocks.append(cur)
        cur = None
        continue
    if cur is not None:
        cur.append(line)

def deroff(line):
    if line.startswith('.') or line.startswith("'"):
        return None
    line = re.sub(r'\\fI.*?\\f[RP]', '', line)
    line = re.sub(r'\\f[BRIP]', '', line)
    line = line.replace('\\-', '-').replace('\\(aq', "'").replace('\\(dq', '"').replace('\\e', '\\')
    line = line.replace('\\\\', '\\').replace('\\&', '').replace('\\ ', ' ')
    if re.fullmatch(r'\s*Figure \d+\s*', line):
        return None
    return line.rstrip()

n = 0
for b in blocks:
    lines = [l for l in (deroff(x) for x in b) if l is not None]
    body = '\n'.join(lines).strip('\n')
    if not re.search(r'[;{}]', body):
        continue
    n += 1
    with open(f'man-{name}-{n:02d}.conf', 'w') as f:
        f.write(body + '\n')
print(n)
