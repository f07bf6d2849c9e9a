"""The Dockerfile: what it promises, checked without a container engine, and built with one.

This machine has the docker client but no engine, so the image build runs only where
``docker info`` works; the other tests check the Dockerfile's contract and that the files it
copies are enough to build the package (a wheel from exactly that context).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
import zipfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[1]


def _instructions() -> list[tuple[str, str]]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return [(i["instruction"], i["value"]) for i in parser.structure]


def test_dockerfile_contract() -> None:
    found = _instructions()
    values = {name: [v for n, v in found if n == name] for name, _ in found}
    assert values["FROM"][0].startswith("python:3.11-slim")
    assert values["USER"] == ["graphsvc"]  # not root
    assert values["VOLUME"] == ['["/data"]']
    health = values["HEALTHCHECK"][0]
    assert "/health" in health and "8765" in health
    entry = json.loads(values["ENTRYPOINT"][0])
    assert entry[:3] == ["graphsvc", "serve", "/src"]
    assert entry[entry.index("--db") + 1].startswith("/data/")
    assert entry[entry.index("--port") + 1] == "8765" and values["EXPOSE"] == ["8765"]
    user_at = [n for n, _ in found].index("USER")
    assert all(n != "RUN" for n, _ in found[user_at:])  # nothing runs as root after USER


def test_the_copied_files_build_a_complete_package(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for name, value in _instructions():
        if name == "COPY":
            *sources, _ = value.split()
            for source in sources:
                src = ROOT / source
                if src.is_dir():
                    shutil.copytree(
                        src, context / source, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy2(src, context / source)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("graphsvc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    schema = {p.name for p in (ROOT / "schema").glob("*.sql")}
    assert schema and {f"graphsvc/_schema/{s}" for s in schema} <= names
    assert "graphsvc/cli.py" in names and "graphsvc/api.py" in names


def _engine() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.skipif(not _engine(), reason="no container engine on this machine (docker info fails)")
def test_image_builds_and_serves_health(tmp_path: Path) -> None:
    tag = "graphsvc-test:latest"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def f():\n    return 1\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = [
        "docker",
        "run",
        "-d",
        "--rm",
        "-p",
        f"127.0.0.1:{port}:8765",
        "-e",
        "GRAPHSVC_TOKEN=t0k",
    ]
    run += ["-v", f"{tmp_path / 'src'}:/src:ro", tag]
    container = subprocess.run(run, check=True, capture_output=True, text=True).stdout.strip()
    try:
        pause = threading.Event()
        for _ in range(600):
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/status", headers={"Authorization": "Bearer t0k"}
                )
                with urllib.request.urlopen(request, timeout=5) as r:
                    status = json.load(r)
                if status["as_of"] >= 1:
                    break
            except OSError:
                pass
            pause.wait(0.2)
        assert status["files"] == 1
        user = subprocess.run(
            ["docker", "exec", container, "id", "-u"], capture_output=True, text=True, check=True
        )
        assert user.stdout.strip() != "0"
    finally:
        subprocess.run(["docker", "stop", container], capture_output=True, timeout=120)
