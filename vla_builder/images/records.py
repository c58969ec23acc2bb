"""Grounded records of one labeled image: pointing, referring, spatial VQA and target-location actions, each with
its evidence and a three-step reasoning trace (question basis, error verification, answer confirmation), in English
or Korean.

Coordinates in records are normalized to the image: points (x, y) and boxes [x0, y0, x1, y1] in 0..1, three
decimals; the evidence also gives the label boxes in pixels. A record is written only when `Scene` says its phrase
fits one object and its relation holds — the wording never adds a claim the geometry did not check.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from vla_builder.images.grounding import OPPOSITE, Obj, Phrase, Scene, interior_point, iou

STEP_NAMES = {"en": ("Question basis", "Error verification", "Answer confirmation"),
              "ko": ("질문 근거", "오류 검증", "답변 확정")}
SYSTEM = {
    "en": "You look at an image and answer with grounded coordinates: points (x, y) and boxes [x0, y0, x1, y1] "
          "normalized to the image (0 to 1, origin top left). Reason in three labelled steps (question basis, error "
          "verification, answer confirmation), then give the final answer.",
    "ko": "이미지를 보고 좌표로 답한다. 점 (x, y)와 상자 [x0, y0, x1, y1]는 이미지 크기로 정규화한 값(0~1, 원점은 왼쪽 "
          "위)이다. 세 단계(질문 근거, 오류 검증, 답변 확정)로 추론한 뒤 최종 답을 제시한다.",
}
REL_EN = {"left_of": "to the left of", "right_of": "to the right of", "above": "above", "below": "below"}
IRREGULAR = {"person": "people", "mouse": "mice", "child": "children", "man": "men", "woman": "women",
             "knife": "knives", "sheep": "sheep", "skis": "skis", "scissors": "scissors", "glasses": "glasses",
             "pedestrian": "pedestrians", "bus": "buses", "fish": "fish", "deer": "deer"}


def plural(noun: str) -> str:
    """English plural of a class name (its last word): enough for label vocabularies, irregulars listed."""
    head, _, last = noun.rpartition(" ")
    low = last.lower()
    if low in IRREGULAR:
        last = IRREGULAR[low]
    elif low.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif low.endswith("y") and low[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last
REL_KO = {"left_of": "왼쪽", "right_of": "오른쪽", "above": "위", "below": "아래"}
ORD_EN = {"leftmost": ("leftmost", "on the left"), "rightmost": ("rightmost", "on the right"),
          "topmost": ("topmost", "at the top"), "bottommost": ("bottommost", "at the bottom")}
ORD_KO = {"leftmost": ("가장 왼쪽", "왼쪽"), "rightmost": ("가장 오른쪽", "오른쪽"), "topmost": ("가장 위쪽", "위쪽"),
          "bottommost": ("가장 아래쪽", "아래쪽")}


# -- Korean particles: 을/를, 이/가, 은/는, 와/과 follow whether the word ends in a final consonant ------------
def _has_final_consonant(word: str) -> bool | None:
    ch = word.strip()[-1:] if word.strip() else ""
    if "가" <= ch <= "힣":
        return (ord(ch) - 0xAC00) % 28 != 0
    if ch.isdigit():
        return ch in "013678"  # 영, 일, 삼, 육, 칠, 팔
    return None  # a Latin name: the particle is written with both forms, 을(를)


def josa(word: str, pair: str) -> str:
    """`josa("컵", "을/를")` -> "컵을"; an undecidable word gets both forms ("cup을(를)")."""
    with_final, without = pair.split("/")
    final = _has_final_consonant(word)
    if final is None:
        return f"{word}{with_final}({without})"
    return word + (with_final if final else without)


def quoted(phrase: str, pair: str) -> str:
    """'phrase' followed by its particle (the quote marks do not change which form fits)."""
    return "'" + phrase + "'" + josa(phrase, pair)[len(phrase):]


def render_phrase(p: Phrase, lang: str) -> str:
    c = p.target.cls
    if p.attribute:
        return f"{p.attribute[1]} {c}" if lang == "ko" else f"the {p.attribute[1]} {c}"
    if lang == "ko":
        if p.ordinal:
            return f"{ORD_KO[p.ordinal][0 if p.n_same > 2 else 1]} {c}"
        if p.relation:
            return f"{p.anchor.cls} {REL_KO[p.relation]}에 있는 {c}"  # type: ignore[union-attr]
        return c
    if p.ordinal:
        return f"the {ORD_EN[p.ordinal][0]} {c}" if p.n_same > 2 else f"the {c} {ORD_EN[p.ordinal][1]}"
    if p.relation:
        return f"the {c} {REL_EN[p.relation]} the {p.anchor.cls}"  # type: ignore[union-attr]
    return f"the {c}"


def _box_px(o: Obj) -> str:
    return "[" + ", ".join(f"{v:.0f}" for v in o.box) + "] px"


def _label(o: Obj) -> dict:
    return {"id": o.ref, "class": o.cls, "box_px": [round(v, 1) for v in o.box], "polygon": bool(o.polygons),
            "crowd": o.crowd}


def _why_unique(scene: Scene, p: Phrase, lang: str) -> str:
    """Error verification for a phrase: why it fits exactly one labeled object."""
    t, c = p.target, p.target.cls
    same = scene.by_class[c]
    others = [o for o in same if o is not t]
    ko = lang == "ko"
    if not others:
        return (f"라벨에 {josa(c, '은/는')} {t.ref} 하나뿐이고 군중(crowd) 영역도 없으므로 {quoted(render_phrase(p, lang), '은/는')} "
                f"한 물체만 가리킨다." if ko else
                f"The labels hold exactly one {c} ({t.ref}) and no crowd region of it, so "
                f"'{render_phrase(p, lang)}' names one object.")
    if p.attribute:
        key, value = p.attribute
        rest = ", ".join(f"{o.ref} {o.attributes.get(key)}" for o in others)
        return (f"{c} {len(same)}개 중 {key} 속성이 '{value}'인 것은 {t.ref}뿐이다(나머지: {rest}). 따라서 "
                f"{quoted(render_phrase(p, lang), '은/는')} 한 물체만 가리킨다." if ko else
                f"Of the {len(same)} {plural(c)} only {t.ref} has {key} '{value}' in the labels (the others: "
                f"{rest}), so '{render_phrase(p, lang)}' names one object.")
    axis = 0 if p.ordinal in ("leftmost", "rightmost") or p.relation in ("left_of", "right_of") else 1
    coord = "x" if axis == 0 else "y"
    rest = ", ".join(f"{o.ref} {o.centre[axis]:.0f}" for o in others)
    if p.ordinal:
        rel = {"leftmost": "left_of", "rightmost": "right_of", "topmost": "above", "bottommost": "below"}[p.ordinal]
        return (f"{c} {len(same)}개 중 {t.ref}(중심 {coord}={t.centre[axis]:.0f})만 나머지({rest}) 모두의 "
                f"{REL_KO[rel]}에 있고 상자가 충분히 떨어져 있으므로 {quoted(render_phrase(p, lang), '은/는')} 한 물체만 "
                f"가리킨다." if ko else
                f"Of the {len(same)} {plural(c)}, only {t.ref} (centre {coord} = {t.centre[axis]:.0f} px) lies "
                f"{REL_EN[rel]} every other one (centres {rest} px), with boxes apart enough to say so; "
                f"'{render_phrase(p, lang)}' names one object.")
    a = p.anchor
    assert a is not None and p.relation is not None
    return (f"{josa(a.cls, '은/는')} 하나뿐이다({a.ref}, 중심 {coord}={a.centre[axis]:.0f}). {c} "
            f"{len(same)}개 중 {t.ref}(중심 {coord}={t.centre[axis]:.0f})만 {a.cls} {REL_KO[p.relation]}에 있고 "
            f"상자가 거의 겹치지 않는다(IoU {iou(t, a):.2f}); 나머지({rest})는 반대쪽이므로 "
            f"{quoted(render_phrase(p, lang), '은/는')} 한 물체만 가리킨다." if ko else
            f"There is one {a.cls} ({a.ref}, centre {coord} = {a.centre[axis]:.0f} px). Of the {len(same)} "
            f"{plural(c)} only {t.ref} (centre {coord} = {t.centre[axis]:.0f} px) is {REL_EN[p.relation]} it, with "
            f"little overlap (IoU {iou(t, a):.2f}); the others (centres {rest} px) are on the other side, so "
            f"'{render_phrase(p, lang)}' names one object.")


def _norm_point(pt: tuple[float, float], w: float, h: float) -> list[float]:
    return [round(pt[0] / w, 3), round(pt[1] / h, 3)]


def _norm_box(o: Obj, w: float, h: float) -> list[float]:
    x0, y0, x1, y1 = o.box
    return [round(x0 / w, 3), round(y0 / h, 3), round(x1 / w, 3), round(y1 / h, 3)]


@dataclass
class Draft:
    """A record before it gets its id and image: what is asked, answered, and why."""

    kind: str
    question: str
    answer_text: str  # the final answer as the assistant says it
    answer: dict  # the same, structured: point / box / yes-no / count / object
    query: dict  # what the question asks, structured (what the independent check reinterprets)
    steps: tuple[str, str, str]
    evidence: list[dict]

    def assistant(self, lang: str) -> str:
        names = STEP_NAMES[lang]
        lines = [f"{i + 1}. {names[i]}: {s}" for i, s in enumerate(self.steps)]
        return "\n".join(lines) + ("\n최종 답: " if lang == "ko" else "\nAnswer: ") + self.answer_text


def _pick(options: list[str], key: str) -> str:
    """A wording chosen by the record's key: stable across rebuilds with the same seed."""
    return options[int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(options)]


def _basis(scene: Scene, objs: list[Obj], lang: str) -> str:
    n = len(scene.objects)
    listed = "; ".join(f"{o.ref} {o.cls} {_box_px(o)}" for o in objs)
    return (f"이미지({scene.width_px:.0f}x{scene.height_px:.0f} px) 라벨의 물체 {n}개 중 질문과 관련된 것: {listed}." if
            lang == "ko" else
            f"The labels of this {scene.width_px:.0f}x{scene.height_px:.0f} px image list {n} object(s); the question "
            f"concerns: {listed}.")


def pointing(scene: Scene, p: Phrase, lang: str, key: str) -> Draft:
    t = p.target
    pt, how = interior_point(t)
    ph = render_phrase(p, lang)
    w, h = scene.width_px, scene.height_px
    q = _pick([f"{josa(ph, '을/를')} 가리켜라.", f"{josa(ph, '은/는')} 어디에 있나? 점 하나로 답하라."], key) if lang == "ko" \
        else _pick([f"Point to {ph}.", f"Where is {ph}? Answer with one point."], key)
    where = ("다각형 윤곽 안, 가장자리에서 가장 먼 점" if how == "polygon" else "상자의 중심") if lang == "ko" else \
        ("inside its outline, the point farthest from the edges" if how == "polygon" else "the centre of its box")
    point = _norm_point(pt, w, h)
    confirm = (f"{t.ref}의 {where}은 ({pt[0]:.0f}, {pt[1]:.0f}) px, 정규화하면 ({point[0]}, {point[1]})이다." if lang == "ko"
               else f"The point {where} of {t.ref} is ({pt[0]:.0f}, {pt[1]:.0f}) px, normalized ({point[0]}, "
                    f"{point[1]}).")
    return Draft("pointing", q, f"({point[0]}, {point[1]})", {"point": point, "point_from": how},
                 {"target": p.as_dict()}, (_basis(scene, _involved(p), lang), _why_unique(scene, p, lang), confirm),
                 [_label(o) for o in _involved(p)])


def referring(scene: Scene, p: Phrase, lang: str, key: str) -> Draft:
    t = p.target
    ph = render_phrase(p, lang)
    box = _norm_box(t, scene.width_px, scene.height_px)
    q = _pick([f"{ph}의 경계 상자를 제시하라.", f"{josa(ph, '을/를')} 감싸는 상자는?"], key) if lang == "ko" else \
        _pick([f"Give the bounding box of {ph}.", f"Find {ph} and return its box."], key)
    confirm = (f"{t.ref}의 라벨 상자 {_box_px(t)}를 정규화하면 {box}이다." if lang == "ko" else
               f"The label box of {t.ref}, {_box_px(t)}, normalized is {box}.")
    return Draft("referring", q, str(box), {"box": box}, {"target": p.as_dict()},
                 (_basis(scene, _involved(p), lang), _why_unique(scene, p, lang), confirm),
                 [_label(o) for o in _involved(p)])


def action(scene: Scene, p: Phrase, lang: str, key: str) -> Draft:
    t = p.target
    pt, how = interior_point(t)
    ph = render_phrase(p, lang)
    point = _norm_point(pt, scene.width_px, scene.height_px)
    box = _norm_box(t, scene.width_px, scene.height_px)
    q = _pick([f"{josa(ph, '을/를')} 집어라.", f"{josa(ph, '을/를')} 집어 올려라. 잡을 점과 상자를 제시하라."], key) \
        if lang == "ko" else _pick([f"Pick up {ph}.", f"Grasp {ph}: give the grasp point and its box."], key)
    confirm = (f"잡을 점은 {t.ref} {'윤곽' if how == 'polygon' else '상자'} 안의 ({point[0]}, {point[1]}), 대상 상자는 "
               f"{box}이다." if lang == "ko" else
               f"The grasp point lies inside {t.ref}'s {'outline' if how == 'polygon' else 'box'} at ({point[0]}, "
               f"{point[1]}); the target box is {box}.")
    text = f"잡을 점 ({point[0]}, {point[1]}), 상자 {box}" if lang == "ko" else \
        f"grasp point ({point[0]}, {point[1]}), box {box}"
    return Draft("action", q, text, {"point": point, "box": box, "point_from": how}, {"target": p.as_dict()},
                 (_basis(scene, _involved(p), lang), _why_unique(scene, p, lang), confirm),
                 [_label(o) for o in _involved(p)])


def _involved(*phrases: Phrase) -> list[Obj]:
    out: list[Obj] = []
    for p in phrases:
        for o in (p.target, p.anchor):
            if o is not None and o not in out:
                out.append(o)
    return out


def relation_vqa(scene: Scene, pa: Phrase, pb: Phrase, relation: str, lang: str, key: str) -> Draft:
    """'Is A left of B?': yes when the strict relation holds, no when the strict opposite holds (else not asked)."""
    a, b = pa.target, pb.target
    yes = scene.holds(a, relation, b)
    assert yes or scene.holds(a, OPPOSITE[relation], b)
    held = relation if yes else OPPOSITE[relation]
    ka, kb = render_phrase(pa, lang), render_phrase(pb, lang)
    axis = 0 if relation in ("left_of", "right_of") else 1
    coord = "x" if axis == 0 else "y"
    if lang == "ko":
        q = f"{josa(ka, '은/는')} {kb}의 {REL_KO[relation]}에 있나?"
        verify = (f"두 상자는 거의 겹치지 않고(IoU {iou(a, b):.2f}) 중심 {coord}는 {a.ref} {a.centre[axis]:.0f}, "
                  f"{b.ref} {b.centre[axis]:.0f}이므로 {josa(a.ref, '은/는')} {b.ref}의 "
                  f"{REL_KO[held]}에 있다.")
        ans = "예" if yes else "아니오"
        confirm = f"따라서 답은 '{ans}'이다."
    else:
        q = f"Is {ka} {REL_EN[relation]} {kb}?"
        verify = (f"The boxes barely overlap (IoU {iou(a, b):.2f}); centre {coord} is {a.centre[axis]:.0f} px for "
                  f"{a.ref} and {b.centre[axis]:.0f} px for {b.ref}, so {a.ref} is {REL_EN[held]} {b.ref}.")
        ans = "yes" if yes else "no"
        confirm = f"So the answer is '{ans}'."
    verify = _why_unique(scene, pa, lang) + " " + _why_unique(scene, pb, lang) + " " + verify
    return Draft("spatial_vqa", q, ans, {"yes": yes},
                 {"question": "relation", "relation": relation, "a": pa.as_dict(), "b": pb.as_dict()},
                 (_basis(scene, _involved(pa, pb), lang), verify, confirm), [_label(o) for o in _involved(pa, pb)])


def count_vqa(scene: Scene, cls: str, lang: str, key: str) -> Draft:
    same = scene.by_class[cls]
    n = len(same)
    if lang == "ko":
        q = f"이미지에 {josa(cls, '이/가')} 몇 개 있나?"
        verify = f"{cls} 라벨 {n}개는 모두 알아볼 만큼 크고 군중(crowd) 영역은 없다."
        confirm, ans = f"따라서 {n}개이다.", f"{n}개"
    else:
        q = f"How many {plural(cls)} are in the image?"
        verify = (f"The labels hold {n} {cls if n == 1 else plural(cls)}; all are large enough to see and none is a "
                  "crowd region.")
        confirm, ans = f"So there are {n}.", str(n)
    return Draft("spatial_vqa", q, ans, {"count": n}, {"question": "count", "class": cls},
                 (_basis(scene, same, lang), verify, confirm), [_label(o) for o in same])


def nearest_vqa(scene: Scene, pa: Phrase, pn: Phrase, d0: float, d1: float, lang: str, key: str) -> Draft:
    a, n = pa.target, pn.target
    ka, kn = render_phrase(pa, lang), render_phrase(pn, lang)
    if lang == "ko":
        q = f"{ka}에 중심이 가장 가까운 물체는?"
        verify = (f"{a.ref} 중심에서 {n.ref}까지 {d0:.0f} px, 다음으로 가까운 물체까지 {d1:.0f} px이므로 {josa(n.ref, '이/가')} "
                  f"분명히 가장 가깝다.")
        confirm = f"가장 가까운 것은 {kn}이다."
    else:
        q = f"Which object's centre is closest to the centre of {ka}?"
        verify = (f"From {a.ref}'s centre, {n.ref} is {d0:.0f} px away and the next nearest object {d1:.0f} px, so "
                  f"{n.ref} is clearly the nearest.")
        confirm = f"The nearest is {kn}."
    verify = _why_unique(scene, pa, lang) + " " + _why_unique(scene, pn, lang) + " " + verify
    return Draft("spatial_vqa", q, kn, {"object": n.ref, "box": _norm_box(n, scene.width_px, scene.height_px)},
                 {"question": "nearest", "a": pa.as_dict(), "answer": pn.as_dict()},
                 (_basis(scene, _involved(pa, pn), lang), verify, confirm), [_label(o) for o in _involved(pa, pn)])


def image_drafts(scene: Scene, lang: str, kinds: list[str], key: str, limit: int,
                 exhaustive: bool = True) -> tuple[list[Draft], dict]:
    """Every record the image supports, then a seeded sample of at most `limit`; and per-object phrase stats."""
    phrases = {o.index: scene.phrase(o) for o in scene.objects}
    named = [p for p in phrases.values() if p is not None]
    drafts: list[Draft] = []
    for p in named:
        k = f"{key}|{p.target.ref}"
        if "pointing" in kinds:
            drafts.append(pointing(scene, p, lang, k + "|point"))
        if "referring" in kinds:
            drafts.append(referring(scene, p, lang, k + "|ref"))
        if "action" in kinds and scene.graspable(p.target):
            drafts.append(action(scene, p, lang, k + "|act"))
    if "spatial_vqa" in kinds:
        rng = random.Random(key)
        for i, pa in enumerate(named):
            for pb in named[i + 1:]:
                if pa.target.cls == pb.target.cls or pa.anchor is pb.target or pb.anchor is pa.target:
                    continue  # the phrases themselves already state how these two lie: a question would be empty
                for relation in ("left_of", "above"):
                    if scene.holds(pa.target, relation, pb.target) or scene.holds(pa.target, OPPOSITE[relation],
                                                                                     pb.target):
                        asked = relation if rng.random() < 0.5 else OPPOSITE[relation]  # yes and no alike
                        k = f"{key}|{pa.target.ref}|{pb.target.ref}"
                        drafts.append(relation_vqa(scene, pa, pb, asked, lang, k))
        for cls in sorted(scene.by_class) if exhaustive else ():  # counts need every object labeled
            if scene.countable(cls):
                drafts.append(count_vqa(scene, cls, lang, f"{key}|count|{cls}"))
        for pa in named if exhaustive else ():  # an unlabeled object could be the nearer one
            near = scene.nearest(pa.target)
            if near is not None and phrases.get(near[0].index) is not None:
                drafts.append(nearest_vqa(scene, pa, phrases[near[0].index], near[1], near[2], lang,
                                          f"{key}|near|{pa.target.ref}"))
    if len(drafts) > limit:
        keep = sorted(random.Random(key + "|sample").sample(range(len(drafts)), limit))
        drafts = [drafts[i] for i in keep]
    stats = {"objects": len(scene.objects), "named": len(named),
             "eligible": sum(scene.visible_enough(o) for o in scene.objects)}
    return drafts, stats
