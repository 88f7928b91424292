"""``capture-receiver`` sub-commands, one module each with ``register(subparsers)``.

A module is listed in :data:`sync.receiver_cli.COMMAND_MODULES` to appear on the command line.
"""
