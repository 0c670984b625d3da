"""The media layer: live audio for rooms, behind ``MediaBackend`` (DESIGN.md "Media (voice)").

``create_media_backend(settings, fallback_secret)`` builds the configured one:

- ``null`` (default): state only, no audio.
- ``janus``: Janus AudioBridge over its HTTP API (``townhall.media.janus``); ``townhall janus start``
  runs the Janus townhall ships (``townhall.media.janus_server``). Clients signal through townhall's
  proxy at ``/media/janus`` (``townhall.media.janus_tickets``) unless ``janus_public_url`` is set.
- ``livekit``: LiveKit via ``livekit-api`` (``townhall.media.livekit``), imported only when chosen.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

from townhall.config import Settings
from townhall.media.base import (
    AccessCheck,
    EventHub,
    JoinCredentials,
    MediaBackend,
    MediaError,
    MediaEvent,
    MediaParticipant,
    MediaRoom,
    MediaRoomNotFound,
    MediaUnavailable,
)
from townhall.media.null import NullMediaBackend

__all__ = [
    "AccessCheck",
    "EventHub",
    "JoinCredentials",
    "MediaBackend",
    "MediaError",
    "MediaEvent",
    "MediaParticipant",
    "MediaRoom",
    "MediaRoomNotFound",
    "MediaUnavailable",
    "NullMediaBackend",
    "create_media_backend",
    "janus_folder",
]

log = logging.getLogger(__name__)


def janus_folder(settings: Settings) -> Path:
    """Where ``townhall janus start`` keeps the Janus it runs: config, PID, log, janus.json."""
    return settings.data_dir / "janus"


def create_media_backend(settings: Settings, fallback_secret: str) -> MediaBackend:
    """The backend ``settings.media`` names. ``fallback_secret`` (the chat API secret) derives the
    media secret when none is configured, so every process of one installation agrees on it."""
    media = settings.media
    if media.backend == "null":
        return NullMediaBackend()
    if media.backend == "janus":
        from townhall.media.janus import JanusMediaBackend
        from townhall.media.janus_server import JanusServer

        state = JanusServer(janus_folder(settings)).read_state()
        url = media.janus_url or state.get("url")
        admin_key = media.janus_admin_key or state.get("admin_key")
        if not url or not admin_key:
            raise MediaError(
                "media backend janus needs TOWNHALL_MEDIA__JANUS_URL and TOWNHALL_MEDIA__JANUS_ADMIN_KEY, "
                "or a Janus started with `townhall janus start`"
            )
        secret = media.secret or hmac.new(fallback_secret.encode(), b"townhall-media", hashlib.sha256).hexdigest()
        # the api secret of the Janus `townhall janus start` runs, unless the settings name another Janus
        api_secret = media.janus_api_secret or (state.get("api_secret") if url == state.get("url") else None)
        # Direct mode (janus_public_url, or no proxy) leaves identity unbound: see MediaSettings.janus_proxy.
        proxy_url = None if media.janus_public_url or not media.janus_proxy else f"{settings.base_url()}/media/janus"
        if proxy_url and api_secret is None:
            log.error("Janus at %s has no api_secret townhall knows (TOWNHALL_MEDIA__JANUS_API_SECRET): clients "
                      "who reach it directly can join under another participant's id. Give Janus an api_secret "
                      "(`townhall janus start` does) and tell townhall.", url)
        return JanusMediaBackend(
            url, admin_key=admin_key, secret=secret, public_url=media.janus_public_url, api_secret=api_secret,
            proxy_url=proxy_url, timeout=media.janus_timeout, sweep_interval=media.janus_sweep_interval,
            large_room_listeners=media.large_room_listeners,
        )
    from townhall.media.livekit import LiveKitMediaBackend

    if not (media.livekit_url and media.livekit_api_key and media.livekit_api_secret):
        raise MediaError(
            "media backend livekit needs TOWNHALL_MEDIA__LIVEKIT_URL, TOWNHALL_MEDIA__LIVEKIT_API_KEY "
            "and TOWNHALL_MEDIA__LIVEKIT_API_SECRET"
        )
    return LiveKitMediaBackend(
        media.livekit_url, api_key=media.livekit_api_key, api_secret=media.livekit_api_secret,
        api_url=media.livekit_api_url, token_ttl=media.livekit_token_ttl,
    )
