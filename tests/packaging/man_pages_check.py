#!/usr/bin/env python3
"""The man pages: each renders without a groff warning, and kbus.1 has a section (.SS) for every
subcommand that `kbus --help` lists, and no section for one it does not.

  man_pages_check.py KBUS_PROGRAM MAN_DIR
"""
import os
import re
import subprocess
import sys


def subcommands(program):
    text = subprocess.run([program, "--help"], capture_output=True, text=True, check=True).stdout
    section = text.split("Subcommands:", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


def main():
    program, man_dir = sys.argv[1], sys.argv[2]
    problems = []
    pages = sorted(f for f in os.listdir(man_dir) if re.search(r"\.[18]$", f))
    for page in ("kbus.1", "kbus-demo-service.1", "kbus-codegen.1", "kbusd.8"):
        if page not in pages:
            problems.append(f"no man page {page}")
    for page in pages:
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(man_dir, page)],
                           capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            problems.append(f"{page}: groff says: {r.stderr.strip()}")
    sections = set(re.findall(r"^\.SS (\S+)$", open(os.path.join(man_dir, "kbus.1")).read(), re.M))
    listed = subcommands(program)
    if not listed:
        problems.append("kbus --help lists no subcommands")
    for command in listed:
        if command not in sections:
            problems.append(f"kbus.1 has no section for the subcommand {command}")
    for section in sorted(sections - set(listed)):
        problems.append(f"kbus.1 has a section for {section}, which kbus --help does not list")
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"man pages render cleanly; kbus.1 covers all {len(listed)} subcommands")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
