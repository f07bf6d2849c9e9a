"""``/docs`` (Swagger UI) and ``/redoc`` that work with no internet.

FastAPI's own pages load their JavaScript, CSS, favicon and fonts from CDNs. Here the same pages
load them from the installed ``fastapi-offline`` package (it ships swagger-ui's and redoc's
standalone builds), served under ``/docs-assets``; Swagger UI's online validator badge and
redoc's Google fonts are off, and a Content-Security-Policy keeps the pages to this origin, so a
browser on a machine with no network sees the full docs and asks nothing of anyone else.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from graphsvc.errors import GraphsvcError

ASSETS_URL = "/docs-assets"
# redoc's sidebar always shows the Redocly logo from a CDN and hides the image when it fails to
# load; the served copy points it at an empty data: URL, which fails at once, offline or not.
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# And the pages may load nothing from elsewhere, whatever a future asset version asks for.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' blob:",  # the pages' inline init; redoc's worker
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_NEEDED = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def assets_folder() -> Path:
    """The folder of the installed docs assets.

    Raises:
        GraphsvcError: the ``fastapi-offline`` package or one of its files is missing.
    """
    try:
        folder = Path(str(files("fastapi_offline") / "static"))
    except ModuleNotFoundError as exc:
        raise GraphsvcError(
            "the docs assets are missing: pip install 'fastapi-offline>=1.7,<2'"
        ) from exc
    missing = [name for name in _NEEDED if not (folder / name).is_file()]
    if missing:
        raise GraphsvcError(f"docs assets missing from {folder}: {', '.join(missing)}")
    return folder


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` with local assets (create ``app`` with ``docs_url=None,
    redoc_url=None``)."""
    folder = assets_folder()

    @app.get(f"{ASSETS_URL}/redoc.standalone.js", include_in_schema=False)
    def redoc_js() -> Response:
        code = (folder / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"data:,")
        return Response(code, media_type="text/javascript")

    app.mount(ASSETS_URL, StaticFiles(directory=folder), name="docs-assets")  # after redoc_js
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no call to the online validator
        )
        page.headers["Content-Security-Policy"] = CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CSP
        return page
