"""The practice server: receives sealed items from stations and files them into patient files.

Runs on the practice's machine, never on a station: it may import ``sync`` (what crosses the
wire) and ``barcode`` (to parse a wristband typed by a desk scanner), never ``appliance`` or
``capture``, and nothing imports it. ``capture-receiver`` (:mod:`practice.cli`) is its CLI.
"""
