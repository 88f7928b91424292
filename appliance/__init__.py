"""The station process: config, workflow, vault, audit log, web UI and CLI.

`appliance` composes the hardware seams (`capture`), identification (`barcode`) and delivery
(`sync`); nothing in those packages imports `appliance`.
"""

__version__ = "0.1.0"
