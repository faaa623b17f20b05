"""Shared by the benchmark scripts: replace one '## Heading' section of
docs/performance.md, keeping the others (each script owns its section)."""
import os
import re


def write_section(path, heading, section):
    """Replace the section starting at '## <heading>' in the Markdown file at
    path with section (which starts with that heading), or append it."""
    old = open(path).read() if os.path.exists(path) else "# Performance\n"
    m = re.search(r"^## %s\s*$" % re.escape(heading), old, re.M)
    if m:
        nxt = re.search(r"^## ", old[m.end():], re.M)
        end = m.end() + nxt.start() if nxt else len(old)
        new = old[:m.start()] + section + ("\n" + old[end:] if nxt else "")
    else:
        new = old.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(new)
