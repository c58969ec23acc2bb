"""Geometry of one labeled image: which objects can be named, by which phrase, and which relations hold.

Every rule errs towards abstaining. A phrase is written only when it fits exactly one labeled object: the count of a
class includes every labeled object of it (tiny and truncated ones too, since a viewer sees them), and a crowd
region of a class makes every phrase and count of that class unsafe. A relation ("left of") is stated only when the
boxes are apart enough to say it; a distractor must clearly fail it (its centre on the other side of the anchor's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_builder.boxes import centers, iou_matrix, sizes
from vla_builder.images.recipe import GroundingConfig

# relation -> (axis, sign): "left_of" compares x and the target must be smaller
RELATIONS = {"left_of": (0, -1), "right_of": (0, 1), "above": (1, -1), "below": (1, 1)}
OPPOSITE = {"left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above"}
# ordinal -> the relation the target must hold to every other object of its class
ORDINALS = {"leftmost": "left_of", "rightmost": "right_of", "topmost": "above", "bottommost": "below"}


@dataclass(frozen=True)
class Obj:
    """One labeled object of an image, in the image's pixels."""

    index: int  # position among the image's labels: its id in records ("o3")
    cls: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 px
    polygons: tuple[np.ndarray, ...] = ()  # (N, 2) px outlines, where the labels give them
    crowd: bool = False
    attributes: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def ref(self) -> str:
        return f"o{self.index}"

    @property
    def centre(self) -> tuple[float, float]:
        cx, cy = centers(np.asarray(self.box, float))
        return float(cx), float(cy)

    @property
    def size(self) -> tuple[float, float]:
        w, h = sizes(np.asarray(self.box, float))
        return float(w), float(h)

    @property
    def area(self) -> float:
        return self.size[0] * self.size[1]


@dataclass(frozen=True)
class Phrase:
    """How a referring phrase picks its target: the class alone, an ordinal within the class, or a relation to an
    anchor object whose class is unique in the image."""

    target: Obj
    attribute: tuple[str, str] | None = None  # (label attribute, its value) that only the target has
    ordinal: str | None = None  # leftmost | rightmost | topmost | bottommost
    relation: str | None = None  # left_of | right_of | above | below
    anchor: Obj | None = None
    n_same: int = 1  # labeled objects of the target's class (the phrase excludes n_same - 1 of them)

    def as_dict(self) -> dict:
        return {"class": self.target.cls, "attribute": list(self.attribute) if self.attribute else None,
                "ordinal": self.ordinal, "relation": self.relation,
                "anchor": self.anchor.ref if self.anchor else None,
                "anchor_class": self.anchor.cls if self.anchor else None}


def iou(a: Obj, b: Obj) -> float:
    return float(iou_matrix(np.asarray([a.box], float), np.asarray([b.box], float))[0, 0])


class Scene:
    """The objects of one image and the rules that say what may be stated about them."""

    def __init__(self, objects: list[Obj], width_px: float, height_px: float, cfg: GroundingConfig):
        self.objects = objects
        self.width_px = width_px
        self.height_px = height_px
        self.cfg = cfg
        self.by_class: dict[str, list[Obj]] = {}
        for o in objects:
            self.by_class.setdefault(o.cls, []).append(o)

    # -- which objects can be spoken of ---------------------------------------------------------------------
    def visible_enough(self, o: Obj) -> bool:
        """Big enough to be a target or an anchor: not a crowd, not tiny, not a sliver at the border, not marked
        difficult (VOC) by its labeler."""
        w, h = o.size
        if o.crowd or str(o.attributes.get("difficult", "0")).strip() in ("1", "true", "True"):
            return False
        if o.area < self.cfg.min_area_frac * self.width_px * self.height_px or min(w, h) < self.cfg.min_side_px:
            return False
        cut = min(o.box[0], o.box[1]) <= 1 or o.box[2] >= self.width_px - 1 or o.box[3] >= self.height_px - 1
        frac = self.cfg.min_border_side_frac
        return not cut or (w >= frac * self.width_px and h >= frac * self.height_px)

    def class_has_crowd(self, cls: str) -> bool:
        return any(o.crowd for o in self.by_class.get(cls, ()))

    def unique_class(self, o: Obj) -> bool:
        same = self.by_class.get(o.cls, [])
        return len(same) == 1 and not o.crowd

    def countable(self, cls: str) -> bool:
        """A count is stated only when every labeled object of the class is clearly visible and none is a crowd."""
        same = self.by_class.get(cls, [])
        return bool(same) and all(self.visible_enough(o) for o in same)

    # -- relations ------------------------------------------------------------------------------------------
    def holds(self, a: Obj, relation: str, b: Obj) -> bool:
        """The strict relation: boxes apart enough (IoU, edge overlap) and centres on the right sides."""
        if a is b or iou(a, b) > self.cfg.max_relation_iou:
            return False
        axis, sign = RELATIONS[relation]
        lo, hi = (a, b) if sign < 0 else (b, a)  # lo must come first along the axis
        narrower = min(lo.size[axis], hi.size[axis])
        overlap = lo.box[axis + 2] - hi.box[axis]  # how far lo's far edge passes hi's near edge
        return lo.centre[axis] < hi.centre[axis] and overlap <= self.cfg.max_relation_overlap * narrower

    @staticmethod
    def clearly_not(a: Obj, relation: str, b: Obj) -> bool:
        """A distractor clearly fails `relation` to the anchor: its centre is on the other side (or level)."""
        axis, sign = RELATIONS[relation]
        return (a.centre[axis] - b.centre[axis]) * sign <= 0

    # -- phrases --------------------------------------------------------------------------------------------
    def phrase(self, t: Obj) -> Phrase | None:
        """The simplest phrase that fits exactly `t`, or None (abstain)."""
        if not self.visible_enough(t) or self.class_has_crowd(t.cls):
            return None
        same = self.by_class[t.cls]
        if len(same) == 1:
            return Phrase(t)
        if len(same) > self.cfg.max_same_class:
            return None
        others = [o for o in same if o is not t]
        for key in self.cfg.phrase_attributes:
            value = _attribute(t, key)
            if value is not None and all(_attribute(o, key) not in (None, value) for o in others):
                return Phrase(t, attribute=(key, value), n_same=len(same))
        for ordinal, relation in ORDINALS.items():
            if all(self.holds(t, relation, o) for o in others):
                return Phrase(t, ordinal=ordinal, n_same=len(same))
        for a in self.objects:
            if a.cls == t.cls or not self.unique_class(a) or not self.visible_enough(a):
                continue
            for relation in RELATIONS:
                if self.holds(t, relation, a) and all(self.clearly_not(o, relation, a) for o in others):
                    return Phrase(t, relation=relation, anchor=a, n_same=len(same))
        return None

    def nearest(self, a: Obj) -> tuple[Obj, float, float] | None:
        """The object whose centre is nearest to `a`'s, with its distance and the second nearest's, when the
        nearest is clearly nearer (ratio) — else None. Every labeled object counts; a question about or answered
        by an object covering more than a quarter of the image (a bed, a table) is not asked: its centre says
        little about where it is."""
        others = [o for o in self.objects if o is not a]
        if self.large(a) or len(others) < 2:
            return None
        d = sorted((float(np.hypot(o.centre[0] - a.centre[0], o.centre[1] - a.centre[1])), o.index, o)
                   for o in others)
        (d0, _, o0), (d1, _, _) = d[0], d[1]
        if d1 <= 0 or d0 > self.cfg.nearest_ratio * d1 or self.large(o0):
            return None
        return o0, d0, d1

    def large(self, o: Obj) -> bool:
        return o.area > 0.25 * self.width_px * self.height_px

    def graspable(self, o: Obj) -> bool:
        if o.cls in self.cfg.action_exclude:
            return False
        if self.cfg.action_classes is not None:
            return o.cls in self.cfg.action_classes
        return o.area <= self.cfg.action_max_area_frac * self.width_px * self.height_px


def _attribute(o: Obj, key: str) -> str | None:
    v = o.attributes.get(key)
    if isinstance(v, bool) or not isinstance(v, str | int | float) or not str(v).strip():
        return None
    return str(v).strip()


# -- a point inside the target -------------------------------------------------------------------------------
def _inside(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Even-odd rule: a horizontal ray from each point crosses the outline an odd number of times."""
    a, b = poly, np.roll(poly, -1, axis=0)
    x, y = pts[:, 0:1], pts[:, 1:2]  # (P, 1) against (E,) edges
    straddles = (a[:, 1] > y) != (b[:, 1] > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    return ((straddles & (x < x_cross)).sum(axis=1) % 2) == 1


def _edge_distance(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    a = poly
    b = np.roll(poly, -1, axis=0)
    ab = b - a  # (E, 2)
    ap = pts[:, None, :] - a[None]  # (P, E, 2)
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    return np.sqrt(((pts[:, None, :] - closest) ** 2).sum(-1)).min(axis=1)


def interior_point(o: Obj) -> tuple[tuple[float, float], str]:
    """A point well inside the object (px) and how it was chosen. With a polygon: the grid point inside the largest
    outline farthest from its edges (a thin or C-shaped object's box centre can lie outside the object); without:
    the box centre."""
    if o.polygons:
        poly = max(o.polygons, key=lambda p: abs(_shoelace(p)))
        x0, y0 = poly.min(axis=0)
        x1, y1 = poly.max(axis=0)
        gx, gy = np.meshgrid(np.linspace(x0, x1, 41)[1:-1], np.linspace(y0, y1, 41)[1:-1])
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        pts = pts[_inside(poly, pts)]
        if len(pts):
            best = pts[int(np.argmax(_edge_distance(poly, pts)))]
            return (float(best[0]), float(best[1])), "polygon"
    return o.centre, "box"


def _shoelace(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
