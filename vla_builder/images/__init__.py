"""The image track: labeled still images (COCO incl. polygons and keypoints, VOC, LabelMe, YOLO, CVAT for images,
`mapping:` for AI Hub layouts) -> grounded co-training records: pointing, referring, spatial VQA and
target-location actions, each with its evidence and a three-step reasoning trace, in English or Korean.

`kind: images` recipes come here (see `vla_builder.cli.cmd_build`). Deterministic: no model, no network.

- `recipe`: the recipe schema, validated before any label is read;
- `labels`: an image folder + its labels -> objects per image, through the project's label importers;
- `grounding`: which objects can be named, by which unambiguous phrase, and which relations hold (abstains);
- `records`: the records and their traces (English / Korean templates);
- `build`: writes `records.jsonl` / `records.parquet`, the images, `problems.jsonl` and `manifest.json`;
- `report`: the QA page, a sample of records drawn on their images;
- `lerobot`: on request, the pointing / action records as LeRobot single-frame episodes.
"""
