"""Start ``lifecircle serve``: load the study, build it in memory, print the address (with
the access token when serving beyond this machine) and serve until stopped."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import uvicorn

from lifecircle.geo.build import build_study_area
from lifecircle.i18n import tr
from lifecircle.serve.app import make_app
from lifecircle.serve.state import WhatIf
from lifecircle.serve.study import load_config

__all__ = ["LOCAL", "serve"]

LOCAL = "127.0.0.1"
"""Where the server listens unless told otherwise: this machine only."""


def serve(
    path: str | Path,
    *,
    host: str = LOCAL,
    port: int = 8765,
    lang: str | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the what-if map of the study at ``path`` (a results folder or a plan file).

    Parameters
    ----------
    path
        A finished plan's output folder, or a plan file.
    host
        The address to listen on; any but 127.0.0.1 requires the printed token.
    port
        The port.
    lang
        The language of what is printed and of the page (None: the plan's).
    say
        Where the address goes.
    """
    config = load_config(path)
    area = build_study_area(config.study_inputs())
    w = WhatIf(area, config.params())
    token = None if host == LOCAL else secrets.token_urlsafe(24)
    lang = lang or config.outputs.lang
    app = make_app(w, config, token=token, lang=lang)
    url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    say(tr("serve_started", lang, url=url))
    uvicorn.run(app, host=host, port=port, log_level="warning")
