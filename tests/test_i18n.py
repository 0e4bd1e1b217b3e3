"""Every user-facing string exists in Chinese and English, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from lifecircle.i18n import Note, translations

PACKAGE = Path(__file__).resolve().parents[1] / "lifecircle"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, zh = translations("en"), translations("zh")
    assert set(en) == set(zh)
    for key in en:
        assert placeholders(en[key]) == placeholders(zh[key]), key
    assert all(
        re.search(r"[\u4e00-\u9fff]", zh[k]) or not re.search("[a-z]{4}", zh[k])
        for k in zh
        if k != "osm_attribution"
    )


def test_every_key_the_code_uses_exists() -> None:
    used: set[str] = set()
    for f in PACKAGE.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        used |= set(re.findall(r"\btr\(\s*\"([a-z0-9_]+)\"", text))
        used |= set(re.findall(r"\bNote\(\s*\"([a-z0-9_]+)\"", text))
        used |= set(re.findall(r"f\"stage_\{|tr\(f\"(level_)", text)) - {""}
    en = translations("en")
    missing = sorted(k for k in used if k not in en and not k.endswith("_"))
    assert not missing, missing
    for stage in ("load", "network", "access", "coverage", "placement", "outputs"):
        assert f"stage_{stage}" in en
    for level in ("block", "5min", "10min", "15min", "all"):
        assert f"level_{level}" in en


def test_notes_render_in_both_languages() -> None:
    n = Note(
        "note_no_facility", {"n": 2, "names": {"en": "Pharmacy, Park", "zh": "药店、公园绿地"}}
    )
    assert "Pharmacy, Park" in n.text("en") and "药店、公园绿地" in n.text("zh")
