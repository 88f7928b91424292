"""``capture-receiver`` sub-commands, one module each with ``register(subparsers)``.

A module is listed in :data:`practice.cli.COMMAND_MODULES` to appear on the command line.
"""
