"""``capture-receiver`` sub-commands, one module each with ``register(subparsers)``.

A module is imported and listed in :data:`practice.cli.COMMANDS` to appear on the command
line. Shared pieces (``ReceiverCommandError``, ``--data-dir``) are in
:mod:`practice.commands._common`; a command never imports :mod:`practice.cli`.
"""
