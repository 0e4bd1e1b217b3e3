"""The what-if map's web server (Starlette): the page, and a small JSON API over one
:class:`~lifecircle.serve.state.WhatIf` held in memory.

Safe by default: the client never names a file; request bodies and the changes of a
scenario are bounded; a bad request is a 4xx with a message in English and Chinese, never
a traceback; with a token (required when serving beyond 127.0.0.1) every request must
carry it, as the ``token`` query parameter or the ``X-Lifecircle-Token`` header, compared
in constant time. Nothing is written anywhere: exports are returned to the browser.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from lifecircle.config import PlanConfig
from lifecircle.i18n import tr, translations
from lifecircle.maps.coverage_map import MAJOR_STREETS, street_layers
from lifecircle.maps.offline import inline_assets
from lifecircle.serve.state import Change, ChangeError, WhatIf
from lifecircle.serve.study import scenario_files

__all__ = ["MAX_BODY", "TOKEN_HEADER", "make_app"]

MAX_BODY = 4096
"""Bytes a request body may hold (a change is a few dozen)."""
TOKEN_HEADER = "x-lifecircle-token"
_STATUS = {
    "unknown_facility": 404,
    "unknown_unit": 404,
    "too_many_changes": 409,
    "from_file": 409,
    "polygon_category": 409,
    "too_close": 409,
}


def _message(key: str, **values: object) -> dict[str, str]:
    return {lang: tr(f"serve_{key}", lang, **values) for lang in ("en", "zh")}


def _error(key: str, status: int = 400, **values: object) -> JSONResponse:
    return JSONResponse({"error": key, "message": _message(key, **values)}, status_code=status)


def _clean(v: Any) -> Any:
    """JSON-safe: non-finite floats as None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


class _Guard(BaseHTTPMiddleware):
    """The token (when set), the body size bound, and no traceback ever."""

    def __init__(self, app: Any, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if self.token is not None:
            given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return _error("token", 403)
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            return _error("too_large", 413, n=MAX_BODY)
        try:
            return await call_next(request)
        except Exception:
            return _error("internal", 500)


class _Api:
    """The routes over one study, its changes taken one at a time."""

    def __init__(self, w: WhatIf, config: PlanConfig, lang: str) -> None:
        self.w = w
        self.config = config
        self.lock = threading.Lock()
        self.page = _page(lang)
        self.study_json = json.dumps(_clean(_study(w)), ensure_ascii=False)

    def index(self, request: Request) -> Response:
        return HTMLResponse(self.page)

    def study(self, request: Request) -> Response:
        return Response(self.study_json, media_type="application/json")

    def coverage(self, request: Request) -> Response:
        cat = request.query_params.get("category", "")
        with self.lock:
            try:
                return JSONResponse(_clean(self._coverage(cat)))
            except ChangeError as err:
                return _error(err.key, _STATUS.get(err.key, 400), **err.values)

    def _coverage(self, cat: str, change: Change | None = None) -> dict[str, Any]:
        w = self.w
        k = w.column(cat)
        shares = w.unit_shares(k)
        res = w.access.demand.residents
        unc = ~w.covered(k)
        return {
            "category": cat,
            "headline": w.headline(k),
            "unit_share": [None if math.isnan(s) else round(float(s), 4) for s in shares],
            "uncovered_residents": float(res[unc].sum()),
            "proposals": [
                {"id": p.pid, "category": p.category, "lon": p.lon, "lat": p.lat}
                for p in w.proposals.values()
            ],
            "removed": [str(i) for i in w.ids[~w.active]],
            "changes": [
                {
                    "op": c.op,
                    "category": c.category,
                    "facility": c.facility,
                    "gained": c.gained,
                    "lost": c.lost,
                }
                for c in w.changes
            ],
            "change": None
            if change is None
            else {"facility": change.facility, "gained": change.gained, "lost": change.lost},
        }

    async def change(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():  # bounded even without a content-length
            body += chunk
            if len(body) > MAX_BODY:
                return _error("too_large", 413, n=MAX_BODY)
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise TypeError
        except (ValueError, TypeError):
            return _error("bad_request", 400)
        with self.lock:
            try:
                change = self._apply(doc)
                cat = str(doc.get("view") or change.category)
                return JSONResponse(_clean(self._coverage(cat, change)))
            except ChangeError as err:
                return _error(err.key, _STATUS.get(err.key, 400), **err.values)
            except (KeyError, TypeError, ValueError):
                return _error("bad_request", 400)

    def _apply(self, doc: dict[str, Any]) -> Change:
        op = doc.get("op")
        if op == "add":
            return self.w.add(str(doc["category"]), float(doc["lon"]), float(doc["lat"]))
        if op == "move":
            return self.w.move(str(doc["id"]), float(doc["lon"]), float(doc["lat"]))
        if op == "remove":
            return self.w.remove(str(doc["id"]))
        raise ChangeError("bad_request")

    def undo(self, request: Request) -> Response:
        cat = request.query_params.get("category", "")
        with self.lock:
            self.w.undo()
            try:
                return JSONResponse(_clean(self._coverage(cat)))
            except ChangeError as err:
                return _error(err.key, _STATUS.get(err.key, 400), **err.values)

    def find(self, request: Request) -> Response:
        q = request.query_params.get("q", "")[:100]
        return JSONResponse(self.w.find_units(q))

    def unit(self, request: Request) -> Response:
        uid = request.query_params.get("id", "")[:200]
        with self.lock:
            try:
                return JSONResponse(_clean({"unit_id": uid, "missing": self.w.checklist(uid)}))
            except ChangeError as err:
                return _error(err.key, _STATUS.get(err.key, 400), **err.values)

    def export(self, request: Request) -> Response:
        with self.lock:
            return JSONResponse(scenario_files(self.config, self.w))


def _page(lang: str) -> str:
    """The page in ``lang``, its scripts and styles inlined (no request leaves the server)."""
    html = (resources.files("lifecircle.serve") / "page.html").read_text(encoding="utf-8")
    texts = {
        k[len("serve_page_") :]: v
        for k, v in translations(lang).items()
        if k.startswith("serve_page_")
    }
    texts["lang"], texts["osm"] = lang, tr("osm_attribution", lang)
    js = (resources.files("lifecircle.maps") / "popups.js").read_text(encoding="utf-8")
    html = html.replace("__LANG__", lang).replace(
        "__POPUPS_JS__", js.replace("</script", "<\\/script")
    )
    data = json.dumps(texts, ensure_ascii=False).replace("</", "<\\/")
    return inline_assets(html.replace("__TEXTS__", data))


def _streets(w: WhatIf) -> list[dict[str, Any]]:
    """The study's streets as the page's light base layer (the page has no web tiles)."""
    edges = w.area.edges
    if len(edges) == 0:
        return []
    inside = edges.loc[edges.intersects(w.area.extent)].to_crs("EPSG:4326")
    geoms = inside.geometry.to_numpy()
    highway = inside["highway"].astype(str).to_numpy() if "highway" in inside else None
    major = (
        np.isin(highway, list(MAJOR_STREETS)) if highway is not None else np.zeros(len(geoms), bool)
    )
    return street_layers({True: geoms[major], False: geoms[~major]})


def _study(w: WhatIf) -> dict[str, Any]:
    """What the page draws once: categories, units (WGS84), streets and existing
    facilities (with their names)."""
    cat = w.area.catalog
    units = w.area.units.to_crs("EPSG:4326")
    names = units["name"].astype(str) if "name" in units else units["unit_id"].astype(str)
    shapes = json.loads(
        units[["geometry"]].assign(unit_id=units["unit_id"].astype(str), name=names).to_json()
    )
    fac = w.area.facilities.copy()
    fac.geometry = fac.geometry.representative_point()
    fac = fac.to_crs("EPSG:4326")
    fac_names = fac["name"] if "name" in fac else pd.Series(None, index=fac.index)
    return {
        "categories": [
            {
                "id": c.id,
                "en": c.name_en,
                "zh": c.name_zh,
                "required": bool(c.required),
                "threshold_m": float(w.access.thresholds_m[w.access.column(c.id)]),
            }
            for c in cat
            if c.id in w.access.categories
        ],
        "units": shapes,
        "streets": _streets(w),
        "facilities": [
            {
                "id": str(i),
                "category": str(c),
                "name": str(n) if isinstance(n, str) and n.strip() else None,
                "lon": g.x,
                "lat": g.y,
            }
            for i, c, n, g in zip(
                fac["facility_id"], fac["category"], fac_names, fac.geometry, strict=True
            )
        ],
        "focus": w.access.categories[0],
    }


def make_app(
    w: WhatIf, config: PlanConfig, *, token: str | None = None, lang: str | None = None
) -> Starlette:
    """The web application over a study.

    Parameters
    ----------
    w
        The study in memory.
    config
        Its plan (what an export writes back).
    token
        The access token every request must carry (None: none asked for).
    lang
        The page's language (None: the plan's ``outputs.lang``); the API's messages carry
        both languages.

    Returns
    -------
    Starlette
        The ASGI application.
    """
    api = _Api(w, config, lang or config.outputs.lang)
    routes = [
        Route("/", api.index),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/study", api.study),
        Route("/api/coverage", api.coverage),
        Route("/api/change", api.change, methods=["POST"]),
        Route("/api/undo", api.undo, methods=["POST"]),
        Route("/api/find", api.find),
        Route("/api/unit", api.unit),
        Route("/api/export", api.export),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_Guard, token=token)])
