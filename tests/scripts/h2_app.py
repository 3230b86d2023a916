"""An ASGI app for hypercorn (tests/http2.rs): 404 for paths under /missing,
else 200; each body 100 bytes."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    status = 404 if scope["path"].startswith("/missing") else 200
    body = b"x" * 100
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"100")]})
    await send({"type": "http.response.body", "body": body})
