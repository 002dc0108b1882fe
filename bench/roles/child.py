"""`python -m bench.roles.child ROLE`: one of eosbench's roles as a child process speaking JSON lines.

The first line on stdin is the role's spec, then messages follow both ways, one JSON object per
line (`bench.roles.protocol`). stdout carries nothing but messages: whatever else the process
writes there (a library's print, librdkafka's C-level output) is sent to stderr instead.
"""

from __future__ import annotations

import os
import sys

from bench.roles import entry
from bench.roles.launcher import LineChannel
from bench.roles.protocol import ROLES, read_spec


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ROLES:
        print(f"usage: python -m bench.roles.child {{{','.join(ROLES)}}}", file=sys.stderr)
        return 2
    role = ROLES[argv[0]]
    messages = os.dup(1)
    os.dup2(2, 1)  # stdout is the protocol's alone
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            print("no spec on stdin", file=sys.stderr)
            return 2
        line += chunk
    entry(role.module, read_spec(line, role), LineChannel(0, messages))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
