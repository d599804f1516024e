"""The aiohttp application: HTTP API, WebSocket signaling, aiortc peers and the media room."""
