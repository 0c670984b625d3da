"""Reading a request body with a size limit, for every surface."""

from __future__ import annotations

from starlette.requests import Request

from townhall.core.fields import is_digits


async def read_limited(request: Request, limit: int, too_large: Exception) -> bytes:
    """The raw body; ``too_large`` is raised when it is (declared or streamed) over ``limit`` bytes,
    before more than that is buffered. The body is kept on the request, as Starlette does, so a later
    ``request.body()`` or a second call gets it again."""
    length = request.headers.get("content-length", "")
    if is_digits(length) and int(length) > limit:
        raise too_large
    cached = getattr(request, "_body", None)
    if cached is not None:
        return cached
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    request._body = b"".join(chunks)
    return request._body
