"""Runners run `process_clip` over clips: `local` (in-process, default) and `ray` (a cluster)."""
