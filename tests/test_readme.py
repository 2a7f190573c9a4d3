"""The README's promise to a newcomer: `make run` starts `podium serve --demo`, which
prints what the README shows, and every URL it prints opens.

Pages answer 200 with HTML; a page docs/openapi.yaml still marks `x-podium-pending` (not
served by this build yet) must answer a JSON 404 instead, so this test tightens itself
when the mark is removed. The WHEP URL is watched for real: an aiortc viewer with the
printed token decodes the demo's synthetic lecture.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml
from tests.server.media.peers import watch

from loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
SPEC = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
TOKEN = re.compile(r"pd1\.[\w-]+\.[\w-]+")
README_PORT = 8080


def make_run_command() -> list[str]:
    """The `run` target's recipe, with the venv's `podium` for `$(BIN)/podium`."""
    recipe = re.search(r"^run:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe is not None, "the Makefile has no `run` target"
    words = recipe.group(1).split()
    assert words[0] == "$(BIN)/podium", recipe.group(1)
    return [str(Path(sys.executable).parent / "podium"), *words[1:]]


@dataclass
class Demo:
    port: int
    lines: list[str]

    def url(self, label: str) -> tuple[str, str | None]:
        """The URL printed after `label`, and the bearer token printed with it if any."""
        line = next(line for line in self.lines if line.strip().startswith(label))
        url = re.search(r"http://\S+", line)
        assert url is not None, line
        bearer = re.search(r"\(Bearer (\S+)\)", line)
        return url.group(0), bearer.group(1) if bearer else None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port = free_port()
    env = {**os.environ, "PODIUM_ICE_ADDRESSES": "127.0.0.1", "PODIUM_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [*make_run_command(), "--port", str(port)],
        cwd=tmp_path_factory.mktemp("make-run"),  # a fresh ./podium.db and ./secret.key
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("WHEP playback" in x for x in lines):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    try:
        assert any("WHEP playback" in x for x in lines), f"printed only: {lines}"
        yield Demo(port, lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0  # a clean shutdown on Ctrl-C / SIGTERM


def test_the_readme_shows_what_make_run_prints(demo: Demo) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    for line in demo.lines:
        shown = TOKEN.sub("…", line).replace(f":{demo.port}", f":{README_PORT}")
        assert shown in readme, f"README.md does not show this line of `make run`: {shown!r}"


def pending(path: str) -> bool:
    """Whether docs/openapi.yaml marks the page serving `path` as not served yet."""
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and "get" in item:
            return "x-podium-pending" in item["get"]
    raise AssertionError(f"{path} is not in docs/openapi.yaml")


async def test_every_printed_url_opens(demo: Demo) -> None:
    pages = ["Podium is running at", "Organizer dashboard:", "Staff scanner:"]
    pages += ["Trainee watch page:", "Speaker publish:"]
    async with aiohttp.ClientSession() as http:
        for label in pages:
            url, _ = demo.url(label)
            assert "?" not in url and (label.startswith("Podium") or "#token=pd1." in url)
            path = urlsplit(url).path or "/"
            async with http.get(url.split("#")[0]) as page:
                if pending(path):
                    assert page.status == 404, f"{label} {path}: pending, yet {page.status}"
                    assert (await page.json())["error"]["code"] == "not_found"
                else:
                    assert page.status == 200, f"{label} {path}"
                    assert page.content_type == "text/html"

        # WHIP: the speaker's token is accepted for that session (an empty body is then
        # refused for its type: nothing is published over the demo's own stream).
        whip, speaker = demo.url("WHIP ingest:")
        async with http.options(whip) as preflight:
            assert preflight.status == 204 and "POST" in preflight.headers["Allow"]
        async with http.post(whip, headers={"Authorization": f"Bearer {speaker}"}) as refused:
            assert refused.status == 415, await refused.text()

        # WHEP: the trainee's token plays the session; the viewer decodes video frames.
        whep, trainee = demo.url("WHEP playback:")
        auth = {"Authorization": f"Bearer {trainee}"}
        locations: list[str] = []

        async def signal_offer(offer: str) -> str:
            headers = auth | {"Content-Type": "application/sdp"}
            async with http.post(whep, data=offer, headers=headers) as answer:
                assert answer.status == 201, await answer.text()
                locations.append(answer.headers["Location"])
                return await answer.text()

        viewer = await watch(signal_offer)
        try:
            assert await viewer.wait_frames(3, within=20), "no video from the WHEP URL"
            (location,) = locations
            base = f"http://127.0.0.1:{demo.port}"
            async with http.delete(base + location, headers=auth) as ended:
                assert ended.status == 200  # the viewer's resource, ended with its token
        finally:
            await viewer.close()
