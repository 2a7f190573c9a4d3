"""Browser security headers on every response, chosen per page.

One Content-Security-Policy for every page (our own scripts and styles only, no inline
code, nothing from another origin), loosened in two places and nowhere else:

- `/scan` (and the scanner's own worker scripts) may compile WebAssembly
  (`'wasm-unsafe-eval'`): the QR decoder used where the browser has no BarcodeDetector.
- `/watch/{session}?kiosk`, the room projector's view, may be framed by the server's own
  origin and the configured PODIUM_ALLOWED_ORIGINS (a room display system that shows
  it in a frame). It has no controls to be tricked into clicking; every other page may
  be framed by nobody (`frame-ancestors 'none'`).

Also: `nosniff`, `no-referrer` (tokens live in URL fragments, which are never sent,
but a page URL is still nobody else's business), a camera/microphone policy naming
the pages that use them, a `Server` header without versions, and
`WWW-Authenticate: Bearer` on every 401 (RFC 6750), and `Cache-Control: no-store` on
answers to requests that carry a token (unless the handler chose otherwise).
"""

from __future__ import annotations

from aiohttp import web

from .. import appkeys as keys

SERVER_NAME = "Podium"

_BASE = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    # 'self' covers ws:/wss: to the same host (CSP level 3).
    "connect-src": "'self'",
    "media-src": "'self' blob:",
    "worker-src": "'self'",
    "manifest-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_WASM = "'self' 'wasm-unsafe-eval'"
# Who may use the camera and microphone: the scanner reads badges, the publisher
# sends the lecture; no other page asks.
_PERMISSIONS = {
    "/scan": "camera=(self), microphone=(), geolocation=()",
    "/publish/": "camera=(self), microphone=(self), geolocation=()",
}
_NO_DEVICES = "camera=(), microphone=(), geolocation=()"


def _may_compile_wasm(path: str) -> bool:
    """The scanner page, and its worker scripts (a worker runs under its own script's
    policy, not the page's)."""
    name = path.rsplit("/", 1)[-1]
    return path == "/scan" or (
        path.startswith("/static/")
        and (path.startswith("/static/vendor/") or name.startswith("scan"))
    )


def is_kiosk(request: web.Request) -> bool:
    return request.path.startswith("/watch/") and "kiosk" in request.query


def content_security_policy(request: web.Request) -> str:
    policy = dict(_BASE)
    if _may_compile_wasm(request.path):
        policy["script-src"] = _WASM
    if is_kiosk(request):
        allowed = request.app[keys.CONFIG].allowed_origins
        policy["frame-ancestors"] = " ".join(("'self'", *allowed))
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def _permissions_policy(path: str) -> str:
    for prefix, policy in _PERMISSIONS.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return policy
    return _NO_DEVICES


def www_authenticate(request: web.Request) -> str:
    """RFC 6750: say a token was sent and refused, or that one is needed."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return 'Bearer realm="podium", error="invalid_token"'
    return 'Bearer realm="podium"'


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: runs for every response the application makes (pages,
    files, JSON, errors, the WebSocket upgrade) just before its headers are sent."""
    headers = response.headers
    headers["Server"] = SERVER_NAME  # aiohttp would name itself and Python, with versions
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Content-Security-Policy"] = content_security_policy(request)
    headers["Permissions-Policy"] = _permissions_policy(request.path)
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if not is_kiosk(request):
        headers["X-Frame-Options"] = "DENY"  # the older browsers' frame-ancestors 'none'
    if "Authorization" in request.headers and "Cache-Control" not in headers:
        # An answer to a token is for its holder only: names, e-mails, badge codes are
        # never kept in a shared or on-disk cache.
        headers["Cache-Control"] = "no-store"
    if response.status == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = www_authenticate(request)


def _hide_server_version() -> None:
    """The answers aiohttp makes below the application (a request it cannot parse, say)
    never pass on_response_prepare; they take the default banner from this module-level
    name, so that name is set instead. Process-wide, as the banner is."""
    from aiohttp import web_response

    if hasattr(web_response, "SERVER_SOFTWARE"):
        web_response.SERVER_SOFTWARE = SERVER_NAME


def setup(app: web.Application) -> None:
    _hide_server_version()
    app.on_response_prepare.append(add_security_headers)
