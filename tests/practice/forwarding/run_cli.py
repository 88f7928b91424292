"""``python -m tests.practice.forwarding.run_cli ARGS``: ``capture-receiver`` with the forward
and export commands registered (a no-op once practice/cli.py lists them itself)."""

from __future__ import annotations

import sys

from practice import cli
from practice.commands import export, forward

if __name__ == "__main__":
    cli.COMMANDS = (*cli.COMMANDS, *(c for c in (forward, export) if c not in cli.COMMANDS))
    sys.exit(cli.main(sys.argv[1:]))
