"""Camera frames to barcode symbols to identities (patients, caregivers, command cards)."""
