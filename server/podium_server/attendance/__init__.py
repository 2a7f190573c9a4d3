"""The pure attendance core: no aiohttp, no store, no clock (time is passed in)."""
