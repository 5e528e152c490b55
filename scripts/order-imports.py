#!/usr/bin/env python3
"""Orders the leading import block of each Swift file by module name (what `make fmt` would do)."""
import re
import sys
from pathlib import Path

IMPORT = re.compile(r"^(?:@testable |public |package |internal )?import (\w+)\s*$")

for path in sys.argv[1:] or [str(p) for p in Path(".").glob("*/**/*.swift")]:
    lines = Path(path).read_text().split("\n")
    i = 0
    block = []
    while i < len(lines) and (IMPORT.match(lines[i]) or lines[i].strip() == ""):
        if lines[i].strip():
            block.append(lines[i])
        i += 1
    if not block:
        continue
    plain = sorted({l for l in block if not l.startswith("@testable")}, key=lambda l: IMPORT.match(l).group(1))
    testable = sorted({l for l in block if l.startswith("@testable")})
    head = plain + ([""] + testable if testable else [])
    new = "\n".join(head + [""] + lines[i:])
    if new != "\n".join(lines):
        Path(path).write_text(new)
