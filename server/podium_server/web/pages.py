"""The browser pages and their static files, served from `web/static/`.

Pages are plain HTML files (`static/pages/<name>.html`); scripts and styles are files
under `static/` (no inline code: the pages run under a strict Content-Security-Policy).
Our own modules are revalidated on every load (ETag + `no-cache`), so a fixed bug
reaches every phone at once; pinned third-party files under `vendor/` never change
under their name and are cached for a year.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from ..errors import NotFound

STATIC_ROOT = Path(__file__).resolve().parent / "static"
PAGES = ("index", "watch", "publish", "scan", "dashboard", "admin")
_REVALIDATE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"


def _page_handler(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def page(request: web.Request) -> web.StreamResponse:
        path = STATIC_ROOT / "pages" / f"{name}.html"
        if not path.is_file():  # a page whose issue has not landed yet
            raise NotFound(f"no page {name!r} yet")
        return web.FileResponse(
            path,
            headers={
                "Cache-Control": _REVALIDATE,
                "Content-Type": "text/html; charset=utf-8",
                # The token rides in the fragment, which browsers never send; this keeps
                # the page URL itself out of other sites' logs too.
                "Referrer-Policy": "no-referrer",
            },
        )

    return page


def resolve_static(relative: str) -> Path:
    """The file under STATIC_ROOT named by a request path; NotFound for anything else
    (a missing file, a directory, `..`, a symlink pointing out)."""
    if not relative or "\\" in relative or "\x00" in relative:
        raise NotFound("no such file")
    candidate = (STATIC_ROOT / relative).resolve()
    if not candidate.is_relative_to(STATIC_ROOT) or not candidate.is_file():
        raise NotFound("no such file")
    return candidate


async def static_file(request: web.Request) -> web.StreamResponse:
    relative = request.match_info["path"]
    path = resolve_static(relative)
    cache = _IMMUTABLE if relative.startswith("vendor/") else _REVALIDATE
    # FileResponse answers If-None-Match / If-Modified-Since with 304 from its ETag.
    response = web.FileResponse(path, headers={"Cache-Control": cache})
    if path.suffix in (".js", ".mjs"):
        response.content_type = "text/javascript"
        response.charset = "utf-8"
    elif path.suffix == ".wasm":
        response.content_type = "application/wasm"
    return response


def setup(app: web.Application) -> None:
    for name in PAGES:
        route = {"index": "/", "watch": "/watch/{session_id}", "publish": "/publish/{session_id}"}
        app.router.add_get(route.get(name, f"/{name}"), _page_handler(name))
    app.router.add_get("/static/{path:.+}", static_file)
