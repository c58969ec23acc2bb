"""Do the labels fit the video? Boxes outside the frame, rows past its end, boxes stated for another frame shape:
a warning with counts, or `LabelFitError` (the clip fails, said why) when most rows do not fit — e.g. a recipe that
pairs a video with another video's labels. Run once the video is decoded (decode counts the rows past its end).
"""

from __future__ import annotations

from vla_builder.types import PAST_END, Clip, LabelRowCounts


class LabelFitError(ValueError):
    """The labels do not fit the video (another video's labels, another frame size): the clip fails, said why."""


LABEL_MISFIT_MAX = 0.5  # more than this fraction of a clip's label rows outside the frame or past the end: fail
MISFIT_REASONS = ("box entirely outside the frame", PAST_END)


def label_fit(clip: Clip, max_misfit: float = LABEL_MISFIT_MAX) -> str | None:
    """A warning (with counts) when some label rows do not fit the video — boxes outside the frame, rows past its
    end; raises `LabelFitError` past `max_misfit` of the rows (e.g. a recipe pairing a video with another's labels).
    """
    dropped = (clip.label_rows or LabelRowCounts.of(clip.labels)).dropped()
    misfit = {r: int(dropped.get(r, 0)) for r in MISFIT_REASONS if dropped.get(r)}
    size_note = label_size_misfit(clip)
    if not misfit:
        return size_note
    kept = len(clip.labels) if clip.labels is not None else 0
    # rows past the video's end are still in the table (decode counts them); the others were dropped on import
    total = kept + sum(int(v) for r, v in dropped.items() if r != PAST_END)
    bad = sum(misfit.values())
    fraction = bad / max(total, 1)
    counts = ", ".join(f"{n} {r}" for r, n in misfit.items())
    where = clip.source.labels or clip.source.media
    if fraction > max_misfit:
        raise LabelFitError(f"{where}: the labels do not fit the video {clip.source.media.name}: {counts} "
                            f"({fraction:.0%} of {total} rows) — labels of another video or another frame size?")
    note = f"{where}: {counts} ({fraction:.0%} of {total} label rows) do not fit the video"
    return f"{note}; {size_note}" if size_note else note


LABEL_ASPECT_TOL = 0.03  # relative aspect difference above which boxes stated for another frame shape are refused


def label_size_misfit(clip: Clip) -> str | None:
    """The label file states its boxes for a frame size other than the video's: a note when only the scale differs
    (normalized boxes still land right), `LabelFitError` when the shape differs (they would land elsewhere)."""
    labels, info = clip.labels, clip.info
    if labels is None or info is None or labels.frame_size_px is None or len(labels) == 0:
        return None
    lw, lh = labels.frame_size_px
    vw, vh = float(info.width_px), float(info.height_px)
    if abs(lw - vw) < 0.5 and abs(lh - vh) < 0.5:
        return None
    where = clip.source.labels or clip.source.media
    aspect_diff = abs((lw / lh) / (vw / vh) - 1.0)
    said = f"{where}: the labels state {lw:.0f}x{lh:.0f} frames, the video {clip.source.media.name} is {vw:.0f}x{vh:.0f}"
    if aspect_diff > LABEL_ASPECT_TOL:
        raise LabelFitError(f"{said} — another shape ({aspect_diff:.0%} aspect difference), so the {len(labels)} "
                            "boxes would land elsewhere: labels of another video, or of the unrotated frames?")
    return f"{said} (same shape: the {len(labels)} boxes are scaled to the video)"
