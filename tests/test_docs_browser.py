"""/docs and /redoc work with no internet: a real headless Chromium (Debian's ``chromium``,
driven by playwright's Python package, never a downloaded browser) loads them from a real
uvicorn server, renders every operation, and asks nothing of any address but 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import BrowserContext, Route, sync_playwright

from graphsvc.api import create_app
from graphsvc.config import load_settings
from graphsvc.service import Service
from graphsvc.store import Store

CHROMIUM = Path(os.environ.get("GRAPHSVC_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_MS = 60_000  # a deadline for the page to render, not a measurement


@dataclass
class Server:
    url: str
    operations: dict[str, str]  # summary -> path, from /openapi.json


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "a.py").write_text("def f():\n    return 1\n")
    with Store.open(tmp_path / "g.duckdb") as store:
        running = Service(tree, store, load_settings(tree, jobs=1))
        running.start()
        try:
            running.sync(timeout=60)
            yield running
        finally:
            running.stop()


@pytest.fixture
def server(service: Service) -> Iterator[Server]:
    """The real app under a real uvicorn server on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(service), host="127.0.0.1", port=port, log_config=None, lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(600):
        if uv.started or not thread.is_alive():
            break
        ready.wait(0.05)
    assert uv.started, "uvicorn did not start"
    schema = TestClient(create_app(service)).get("/openapi.json").json()
    operations = {
        op["summary"]: path for path, item in schema["paths"].items() for op in item.values()
    }
    try:
        yield Server(f"http://127.0.0.1:{port}", operations)
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


@dataclass
class Traffic:
    """Every request the browser made, and those that were not for 127.0.0.1 (aborted)."""

    seen: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        # blob:http://127.0.0.1:PORT/uuid is redoc's worker, made by the page itself
        return parts.scheme != "blob" or urlsplit(parts.path).hostname == "127.0.0.1"
    return parts.hostname == "127.0.0.1"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[BrowserContext, Traffic]]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test` installs it when run as root (apt-get"
            " install -y chromium); otherwise install Debian's chromium package or point"
            " GRAPHSVC_CHROMIUM at a Chromium binary"
        )
    traffic = Traffic()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile every run
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
        )

        def guard(route: Route) -> None:
            url = route.request.url
            traffic.seen.append(url)
            if _local(url):
                route.continue_()
            else:
                traffic.elsewhere.append(url)
                route.abort()

        context.route("**/*", guard)
        context.on("request", lambda r: None if _local(r.url) else traffic.elsewhere.append(r.url))
        context.on("weberror", lambda e: traffic.errors.append(str(e.error)))
        try:
            yield context, traffic
        finally:
            context.close()


def _assert_offline(traffic: Traffic) -> None:
    assert traffic.elsewhere == [], f"requests left loopback: {traffic.elsewhere}"
    assert traffic.errors == [], f"page errors: {traffic.errors}"


def test_swagger_ui_renders_every_operation_offline(
    server: Server, browser: tuple[BrowserContext, Traffic]
) -> None:
    context, traffic = browser
    page = context.new_page()
    page.goto(f"{server.url}/docs")
    page.locator(".opblock").first.wait_for(timeout=RENDER_MS)
    shown = page.locator(".opblock-summary-description").all_inner_texts()
    assert sorted(shown) == sorted(server.operations)
    paths = set(
        page.locator(".opblock-summary-path").evaluate_all("es => es.map(e => e.dataset.path)")
    )
    assert {"/files", "/files/{path}", "/symbols/{qualname}/callers", "/findings"} <= paths
    assert page.title() == "graphsvc - Swagger UI"
    assert any(u.endswith("/docs-assets/swagger-ui-bundle.js") for u in traffic.seen)
    assert any(u.endswith("/openapi.json") for u in traffic.seen)
    _assert_offline(traffic)


def test_redoc_renders_every_operation_offline(
    server: Server, browser: tuple[BrowserContext, Traffic]
) -> None:
    context, traffic = browser
    page = context.new_page()
    page.goto(f"{server.url}/redoc")
    page.locator("[data-section-id*='/operation/']").first.wait_for(timeout=RENDER_MS)
    headings = page.locator("[data-section-id*='/operation/'] h2").all_inner_texts()
    assert sorted(headings) == sorted(server.operations)
    assert page.get_by_text("/symbols/{qualname}/callers").count() >= 1
    assert any(u.endswith("/docs-assets/redoc.standalone.js") for u in traffic.seen)
    _assert_offline(traffic)


def test_docs_pages_name_only_local_assets(service: Service) -> None:
    """Without a browser: the HTML, its policy header and the assets themselves."""
    client = TestClient(create_app(service))
    for page in ("/docs", "/redoc"):
        answer = client.get(page)
        assert answer.status_code == 200
        assert "http" not in answer.text.replace("http-equiv", ""), answer.text
        assert "default-src 'self'" in answer.headers["content-security-policy"]
    redoc = client.get("/docs-assets/redoc.standalone.js")
    assert redoc.status_code == 200 and redoc.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in redoc.content and len(redoc.content) > 100_000
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
        assert client.get(f"/docs-assets/{asset}").status_code == 200
    assert client.get("/docs-assets/../api.py").status_code == 404
    schema: dict[str, Any] = client.get("/openapi.json").json()
    assert not any(p.startswith("/docs") or p == "/redoc" for p in schema["paths"])
