"""Hardware seams: cameras, the capture button, the status LED and the buzzer.

Nothing here knows about storage, patients or the network; the station composes these parts.
"""
