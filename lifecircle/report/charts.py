"""Charts for the reports (matplotlib, rendered to PNG), with Chinese text that renders.

Chinese labels need a CJK font. One is looked for among the system's fonts (Noto Sans/Serif
CJK, Source Han, WenQuanYi, SimHei, Microsoft YaHei, PingFang...), then in the ``mplfonts``
package if it is installed. :func:`cjk_font` says which was found; the report names it, or
says that none was and how to get one (``apt install fonts-noto-cjk`` or
``pip install mplfonts``); charts are then drawn with English labels.
"""

from __future__ import annotations

import base64
import contextlib
import io
from functools import cache
from pathlib import Path

import numpy as np

from lifecircle.i18n import tr
from lifecircle.result import PlanResult

__all__ = ["FontChoice", "cjk_font", "coverage_chart", "distance_chart", "png_data_uri"]

_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK JP",
)


_CJK_FILE_HINTS = ("cjk", "wqy", "sourcehan", "simhei", "msyh", "pingfang")


class FontChoice:
    """The font charts use for Chinese, and where it came from."""

    def __init__(self, family: str | None, path: str | None, source: str) -> None:
        self.family = family
        self.path = path
        self.source = source

    def __repr__(self) -> str:
        return f"FontChoice({self.family!r}, {self.source!r})"


@cache
def cjk_font() -> FontChoice:
    """The first CJK font found on the system or in ``mplfonts`` (see the module docs)."""
    from matplotlib import font_manager

    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    if not any(family in by_name for family in _CJK_FAMILIES):
        # matplotlib's font cache predates a font installed since: look at the files
        for fname in font_manager.findSystemFonts():
            if any(k in Path(fname).name.lower() for k in _CJK_FILE_HINTS):
                with contextlib.suppress(Exception):
                    font_manager.fontManager.addfont(fname)
        by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in by_name:
            return FontChoice(family, by_name[family], "system")
    try:
        import mplfonts
    except ImportError:
        return FontChoice(None, None, "none")
    folder = Path(mplfonts.__file__).parent / "fonts"
    for name in ("NotoSansCJKsc-Regular.otf", "SourceHanSansSC-Regular.otf", "SimHei.ttf"):
        f = folder / name
        if f.is_file():
            font_manager.fontManager.addfont(str(f))
            family = font_manager.FontProperties(fname=str(f)).get_name()
            return FontChoice(family, str(f), "mplfonts package")
    return FontChoice(None, None, "none")


def _setup(lang: str) -> str:
    """The language charts can be drawn in, and matplotlib set up for it."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    font = cjk_font()
    families = ["DejaVu Sans"]
    if font.family:
        families = [font.family, "DejaVu Sans"]
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = families
    plt.rcParams["axes.unicode_minus"] = False
    if lang == "zh" and font.family is None:
        return "en"
    return lang


def _png(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def png_data_uri(png: bytes) -> str:
    """A PNG as a data URI for a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def coverage_chart(result: PlanResult, *, lang: str = "en") -> bytes:
    """Horizontal bars: share of residents and of units covered, per category."""
    import matplotlib.pyplot as plt

    lang = _setup(lang)
    catalog = result.area.catalog
    overall = result.coverage.overall.set_index("category")
    cats = list(catalog.ids)[::-1]
    names = [catalog[c].name(lang) + ("" if catalog[c].required else " *") for c in cats]
    people = overall.loc[cats, "share"].to_numpy(float) * 100
    units = overall.loc[cats, "share_units"].to_numpy(float) * 100
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(cats) + 1.2))
    y = np.arange(len(cats))
    ax.barh(
        y + 0.2,
        np.nan_to_num(people),
        height=0.38,
        color="#1a9850",
        label=tr("share_covered", lang),
    )
    ax.barh(
        y - 0.2,
        np.nan_to_num(units),
        height=0.38,
        color="#91bfdb",
        label=tr("share_units_covered", lang),
    )
    ax.set_yticks(y, names, fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.set_title(tr("chart_coverage", lang), fontsize=11, pad=22)
    return _png(fig)


def chart_categories(result: PlanResult, n: int = 6) -> list[str]:
    """Up to ``n`` required categories with a facility in reach, taken in turn from each
    life-circle level so that the chart spans the 5, 10 and 15-minute circles."""
    catalog = result.area.catalog
    acc = result.access
    reach = np.isfinite(acc.distance_m).any(axis=0)
    levels: dict[str, list[str]] = {}
    for c in catalog:
        if c.required and reach[acc.column(c.id)]:
            levels.setdefault(c.level, []).append(c.id)
    out: list[str] = []
    queues = list(levels.values())
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return [c for c in catalog.ids if c in out]


def distance_chart(
    result: PlanResult, *, lang: str = "en", categories: list[str] | None = None
) -> bytes:
    """Cumulative share of residents by walking distance, for a few categories; dotted
    lines mark their thresholds.

    Parameters
    ----------
    result
        The plan result (its access result's distances and residents).
    lang
        The language of the title, axes and legend.
    categories
        The categories drawn, by id (default: :func:`chart_categories`).

    Returns
    -------
    bytes
        The chart as a PNG image.
    """
    import matplotlib.pyplot as plt

    lang = _setup(lang)
    catalog = result.area.catalog
    acc = result.access
    res = acc.demand.residents
    cats = chart_categories(result) if categories is None else categories
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    xmax = float(max(acc.limits_m[acc.column(c)] for c in cats)) if cats else 1000.0
    for c in cats:
        k = acc.column(c)
        d = acc.distance_m[:, k]
        order = np.argsort(d)
        cum = np.cumsum(res[order]) / res.sum() * 100 if res.sum() > 0 else np.zeros(len(d))
        finite = np.isfinite(d[order])
        if not finite.any():
            continue
        (line,) = ax.step(
            np.concatenate([[0], d[order][finite]]),
            np.concatenate([[0], cum[finite]]),
            where="post",
            label=catalog[c].name(lang),
        )
        ax.axvline(acc.thresholds_m[k], color=line.get_color(), lw=0.9, ls=":")
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 100)
    ax.set_xlabel(tr("distance_m", lang))
    ax.set_ylabel(tr("chart_share_within", lang))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    ax.set_title(tr("chart_distances", lang), fontsize=11)
    return _png(fig)
