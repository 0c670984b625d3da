"""The catalogue of wire surfaces: where each is mounted, what it speaks, whether it is live.

Used by the landing page, ``townhall serve``'s banner and the request metrics. When a surface
lands, flip ``live`` here and mount it in ``townhall.app.create_app``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Surface:
    name: str
    path: str  # where its API is mounted
    speaks: str  # the wire API it is compatible with
    docs: str  # its OpenAPI documentation
    live: bool

    @property
    def segment(self) -> str:
        """The first path segment, which names the surface in metrics."""
        return self.path.strip("/").split("/", 1)[0]


SURFACES: tuple[Surface, ...] = (
    Surface("chat", "/chat", "Stream Chat REST + WebSocket", "/chat/docs", live=True),
    Surface("social", "/social/api", "Clubhouse app API", "/social/docs", live=True),
    Surface("voice", "/voice", "Community Voice Chat", "/voice/docs", live=True),
    Surface("forum", "/forum/api/v1", "habitate community API", "/forum/docs", live=True),
    Surface(
        "experts", "/experts/v1", "Clarity.fm API + OAuth2 provider", "/experts/docs", live=True
    ),
)
