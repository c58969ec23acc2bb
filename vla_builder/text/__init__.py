"""The text track: labeled text (extractive QA incl. SQuAD/KorQuAD, classification, multiple choice, NLI,
summarization; Korean or English) -> SFT records with a three-step reasoning trace in the data's language.

`kind: text` recipes come here (see `vla_builder.cli.cmd_build`). Everything is deterministic: no model, no
network; the trace wording is picked among paraphrases by the recipe's seed.

- `recipe`: the recipe schema, validated before any data is read;
- `readers`: input layouts (JSON Lines, CSV/TSV, JSON list, SQuAD/KorQuAD nesting) -> flat rows;
- `lang`: language detection, content words (Korean: character bigrams or Kiwi morphemes), sentences;
- `traces`: the three steps' shape (Check, Trace with its verdict: confirmed / flagged / rejected) and the rule walk;
- `qa` + `rules_qa`: extractive QA, its checks as a table (`QA_CHECKS`, answer-type `TYPE_RULES`), read through
  `evidence` (sentence overlap, nearness, focus) and `shapes` / `kinds` (question types, answer shapes and kinds);
- `tasks` + `rules_tasks`: classification, multiple choice, NLI and summarization, one table each;
- `messages`: every check's and step's wording, per language;
- `build`: reads the sources, writes `records.jsonl` / `records.parquet`, `rejects.jsonl` and `manifest.json`.
"""
