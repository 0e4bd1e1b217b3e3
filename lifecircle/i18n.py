"""Chinese and English text for everything users read, from ``lifecircle/data/i18n``.

Examples
--------
>>> tr("residents", "zh"), tr("residents", "en")
('居民', 'Residents')
>>> tr("stage_done", "en", stage="access", seconds=1.25)
'access: 1.2 s'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["LANGS", "Note", "has_text", "tr", "translations"]

LANGS = ("en", "zh")


@cache
def translations(lang: str) -> dict[str, str]:
    """All strings of ``lang`` (``"en"`` or ``"zh"``)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: use en or zh")
    text = (resources.files("lifecircle.data") / "i18n" / f"{lang}.toml").read_text(
        encoding="utf-8"
    )
    return {k: str(v) for k, v in tomllib.loads(text).items()}


def has_text(key: str) -> bool:
    """Whether ``key`` has a text (in English, which every key has)."""
    return key in translations("en")


def tr(key: str, lang: str = "en", /, **values: Any) -> str:
    """The text for ``key`` in ``lang``, formatted with ``values``.

    Falls back to English when the Chinese file lacks the key.

    Parameters
    ----------
    key
        The string's key in ``lifecircle/data/i18n/*.toml``.
    lang
        ``"en"`` or ``"zh"``.
    **values
        The values of the string's ``{placeholders}``.

    Returns
    -------
    str
        The text.
    """
    table = translations(lang)
    text = table.get(key)
    if text is None:
        text = translations("en")[key]
    return text.format(**values) if values else text


@dataclass(frozen=True)
class Note:
    """Something a planner should know about a run, rendered in the reader's language.

    Examples
    --------
    >>> n = Note("note_islands", {"points": 2, "residents": "40"})
    >>> n.text("en").startswith("2 resident points")
    True
    """

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        """The note in ``lang`` (a value ``{"en": ..., "zh": ...}`` is picked by language)."""
        values = {
            k: (v.get(lang, v.get("en")) if isinstance(v, dict) else v)
            for k, v in self.values.items()
        }
        return tr(self.key, lang, **values)

    def __str__(self) -> str:
        return self.text("en")
