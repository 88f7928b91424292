"""One module per ``capture-station`` sub-command; each has ``register(subparsers)``."""
