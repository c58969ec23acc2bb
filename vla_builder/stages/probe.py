"""Probe a source (size, fps, codec, rotation) and import its labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vla_builder.pipeline import Stage
from vla_builder.sources.labels import LabelError, read_labels
from vla_builder.sources.video import DecodeError, probe, probe_images
from vla_builder.types import Clip, LabelRowCounts


@dataclass
class ProbeStage(Stage):
    name: ClassVar[str] = "probe"
    needs: ClassVar[tuple[str, ...]] = ("source",)
    makes: ClassVar[tuple[str, ...]] = ("info",)

    def process(self, clip: Clip) -> Clip:
        src = clip.source
        escape = src.check_inside_root(src.media)
        if escape:
            raise DecodeError(src.media, escape)
        if src.video is not None:
            info = probe(src.video)
        else:
            assert src.frames is not None and src.frames_fps is not None
            info = probe_images(src.frames, src.frames_fps)
        return clip.with_(info=info)


@dataclass
class LabelsStage(Stage):
    name: ClassVar[str] = "labels"
    needs: ClassVar[tuple[str, ...]] = ("info",)
    makes: ClassVar[tuple[str, ...]] = ("labels",)

    def process(self, clip: Clip) -> Clip:
        assert clip.info is not None
        if clip.source.labels is not None:
            escape = clip.source.check_inside_root(clip.source.labels)
            if escape:
                raise LabelError(clip.source.labels, escape)
        if clip.source.segment is None and (clip.source.caption is None or clip.source.segments is not None):
            # a segment / caption file that could not be expanded into episodes: fail this clip with its reason
            from vla_builder.sources.labels.segments import expand_episodes

            expand_episodes(clip.source)
        labels = read_labels(clip.source, clip.info)
        # boxes stated for another frame shape: refused here, before any frame is decoded
        from vla_builder.sources.labels.fit import label_size_misfit

        label_size_misfit(clip.with_(labels=labels))
        prov = {**clip.provenance, "labels_format": labels.format, "label_rows": len(labels)}
        # the import's dropped-row counts, copied into a typed fact (decode adds its own; the sink writes them)
        return clip.with_(labels=labels, label_rows=LabelRowCounts.of(labels), provenance=prov)
