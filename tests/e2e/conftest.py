"""Browser end-to-end fixtures: the site served on loopback in offline mode (the
stand-in inside it), and pytest-playwright driving Debian's chromium.

Never `playwright install`: the browser is the system's /usr/bin/chromium
(`apt-get install chromium`; .ci/run does it). Without it these tests are
skipped, unless E2E_REQUIRED=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    missing = [
        what
        for what, ok in [("chromium", Path(CHROMIUM).exists()), ("axe-core (npm ci --prefix tests/e2e)", AXE.exists())]
        if not ok
    ]
    if not missing:
        return
    if os.environ.get("E2E_REQUIRED") == "1":
        raise pytest.UsageError(f"browser tests need {', '.join(missing)}")
    skip = pytest.mark.skip(reason=f"browser tests need {', '.join(missing)}")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {
        "executable_path": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1200, "height": 900}}


@pytest.fixture
def site(tmp_path):
    """The site, as `make run` serves it (offline mode), on a free loopback port."""
    yield from serve(tmp_path, personas=False)


@pytest.fixture
def site_with_personas(tmp_path):
    """The same, with the demo personas seeded and their header menu on."""
    yield from serve(tmp_path, personas=True)


def serve(tmp_path, personas):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_BASE_URL": url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite'}",
        "DEMO_PERSONAS": "on" if personas else "off",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "site.log", "w"),  # noqa: SIM115 - open while the server runs
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/signin", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError((tmp_path / "site.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def shoot(page, request):
    """shoot("name"): a full-page screenshot in test-artifacts/<test>/name.png."""
    folder = ARTIFACTS / request.node.name.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
