"""The wording of the text track's checks, per language: one catalog (`messages.yaml`), so a rule's text is found
(and translated) in one place.

Each entry is a `str.format` template per language. Korean templates write 을(를), 이(가), 은(는), 와(과) after an
inserted word; `msg` picks the form its last syllable takes (`traces.particles`). An entry without a Korean text
belongs to an English-only rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

# data, not code: one entry per message, its text per language (a translator edits the YAML file alone)
MESSAGES: dict[str, dict[str, str]] = yaml.safe_load(
    Path(__file__).with_name("messages.yaml").read_text(encoding="utf-8"))


def msg(key: str, lang: str, **values: object) -> str:
    """The catalog's text for `key` in `lang` (English where the rule has no Korean text), filled with `values`."""
    texts = MESSAGES[key]
    if lang == "ko" and "ko" in texts:
        return particles(texts["ko"].format(**values))
    return texts["en"].format(**values)


_PARTICLE = re.compile(r"(을\(를\)|이\(가\)|은\(는\)|와\(과\))")
_PAIRS = {"을(를)": ("을", "를"), "이(가)": ("이", "가"), "은(는)": ("은", "는"), "와(과)": ("과", "와")}


def particles(text: str) -> str:
    """Korean templates write 을(를) after an inserted word; pick the one its last syllable takes (받침 or not):
    '리슐리외'가, 1624년을. After a non-Hangul ending (a Latin word, a digit) the neutral form stays."""
    def pick(m: re.Match) -> str:
        before = text[:m.start()].rstrip("'\"”’)]」』 ")
        last = before[-1:] if before else ""
        if not "\uac00" <= last <= "\ud7a3":
            return m.group(0)
        with_final, without = _PAIRS[m.group(0)]
        return with_final if (ord(last) - 0xAC00) % 28 else without
    return _PARTICLE.sub(pick, text)
