"""Inputs: video / image-sequence decoding, the time grid, and label import."""
