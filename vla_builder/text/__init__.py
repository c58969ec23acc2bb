"""The text track: labeled text (extractive QA, classification) -> SFT records with a three-step reasoning trace.

`kind: text` recipes come here (see `vla_builder.cli.cmd_build`). Everything is deterministic: no model, no
network; the trace wording is picked among paraphrases by the recipe's seed.

- `recipe`: the recipe schema, validated before any data is read;
- `traces`: the three steps per record (question basis, error verification, answer confirmation), pure functions;
- `build`: reads the sources, writes `records.jsonl`, `rejects.jsonl` and `manifest.json`.
"""
