"""aiohttp adapters: HTTP API, WebSocket, WHIP/WHEP routes, pages."""
