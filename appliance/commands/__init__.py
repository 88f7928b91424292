"""One module per ``capture-station`` sub-command; each has ``register(subparsers)``.

Shared pieces (``CommandError``, ``--config``) are in :mod:`appliance.commands._common`; a
command never imports :mod:`appliance.cli`, which imports the commands.
"""
