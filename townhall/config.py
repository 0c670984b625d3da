"""Settings. Built explicitly (``Settings()`` reads ``TOWNHALL_*`` then), never at import time."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChatSettings(BaseModel):
    # Credentials: when unset they are generated once and kept in <data_dir>/keys.json.
    api_key: str | None = None
    api_secret: str | None = None
    # Multiplies every per-endpoint rate limit (0 disables rate limiting).
    rate_limit_multiplier: float = 1.0
    # Per-endpoint overrides, requests per minute: {"SendMessage": 5}.
    rate_limits: dict[str, int] = Field(default_factory=dict)
    # Seconds between server health.check frames on a WebSocket.
    ws_health_interval: float = 25.0
    max_request_bytes: int = 1_000_000
    # Serve the REST routes without FastAPI's routing and dependency injection (api/chat/lean.py);
    # off only to compare.
    lean_http: bool = True


class SocialSettings(BaseModel):
    """The social surface (Clubhouse API): sign-in, SMS delivery, sign-up policy."""

    # open: everyone who signs in is let in; waitlist: new accounts wait until invited or let in.
    signup_policy: Literal["open", "waitlist"] = "open"
    # Signs access/refresh JWTs; when unset it is generated once and kept in <data_dir>/keys.json.
    jwt_secret: str | None = None
    access_token_ttl: int = Field(3600, ge=60)  # seconds
    refresh_token_ttl: int = Field(30 * 24 * 3600, ge=60)
    # Sign-in codes: digits, lifetime, wrong guesses allowed per code.
    code_length: int = Field(4, ge=4, le=10)
    code_ttl: int = Field(600, ge=30)
    code_attempts: int = Field(5, ge=1)
    # Codes sent per number / per client address per hour (start, resend and call together).
    sends_per_number_per_hour: int = Field(5, ge=1)
    sends_per_address_per_hour: int = Field(30, ge=1)
    # SMS delivery: console (log + `townhall sms last PHONE`) or twilio (Twilio's REST API).
    sms_backend: Literal["console", "twilio"] = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    # Invites every new (admitted) account gets.
    invites_per_user: int = Field(5, ge=0)
    max_request_bytes: int = Field(1_000_000, ge=1024)
    max_photo_bytes: int = Field(5_000_000, ge=1024)
    # Users seen within this many seconds count as online (get_online_friends).
    online_window: int = Field(300, ge=1)


class ForumSettings(BaseModel):
    """The forum surface (habitate API) and its webhooks."""

    # A key to make sure exists (hashed in the database) at start, e.g. shared by a cluster's hosts.
    api_key: str | None = None
    # The icons of the reaction slots s1..sN (their count is the number of slots).
    reaction_slots: list[str] = Field(default_factory=lambda: ["👍", "❤️", "😂", "😮", "😢", "🎉"], min_length=1)
    max_request_bytes: int = Field(1_000_000, ge=1024)
    # Requests per minute per API key (0: no limit); counted in Redis across processes when redis_url is set.
    rate_limit_per_minute: int = Field(6000, ge=0)
    # The outbox worker: in each serving process unless disabled (then run `townhall worker`).
    worker_in_process: bool = True
    worker_poll_interval: float = Field(0.5, gt=0)  # seconds between looks at the outbox when idle
    worker_batch: int = Field(20, ge=1)  # rows claimed at once
    worker_lease: float = Field(30.0, gt=0)  # seconds a claimed row is kept from other workers (> timeout)
    webhook_timeout: float = Field(10.0, gt=0)  # seconds per delivery attempt
    webhook_backoff: float = Field(1.0, ge=0)  # first retry delay, doubled per attempt
    webhook_max_backoff: float = Field(3600.0, ge=0)
    # A subscription is paused once it has failed this many attempts in a row, over at least
    # webhook_pause_after_seconds (a short outage of the receiver does not pause it).
    webhook_pause_after: int = Field(20, ge=1)
    webhook_pause_after_seconds: float = Field(900.0, ge=0)
    webhook_retention_days: float = Field(7.0, ge=0)  # delivered events (and their delivery log) are kept this long
    # Webhook targets on loopback, private, link-local... addresses (refused by default: SSRF), e.g.
    # receivers on the same network as the server.
    allow_private_webhook_targets: bool = False

    # What a lease must leave beyond the delivery timeout (claiming, signing, recording the result).
    LEASE_MARGIN: ClassVar[float] = 1.0

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> ForumSettings:
        # A delivery still running when its lease ends would be sent again by another worker at once.
        if self.worker_lease < self.webhook_timeout + self.LEASE_MARGIN:
            raise ValueError(f"worker_lease ({self.worker_lease}s) must be at least webhook_timeout "
                             f"({self.webhook_timeout}s) + {self.LEASE_MARGIN}s")
        return self


class MediaSettings(BaseModel):
    """The media server carrying live audio (townhall.media): none, Janus or LiveKit."""

    # null: room state only, no audio (development); janus: Janus AudioBridge; livekit: LiveKit.
    backend: Literal["null", "janus", "livekit"] = "null"
    # Derives Janus room secrets, pins and join tokens; when unset, derived from the chat secret.
    secret: str | None = None
    # Janus HTTP API; when unset, read from <data_dir>/janus/janus.json (`townhall janus start`).
    janus_url: str | None = None
    # Clients signal through townhall's proxy at <base url>/media/janus, which checks their join
    # tickets so nobody can join under another participant's id (AudioBridge itself does not bind a
    # join token to an id). false: clients are sent to Janus directly (janus_public_url or janus_url).
    janus_proxy: bool = True
    # Send clients to this Janus URL directly instead of the proxy (a Janus of your own reachable by
    # clients). Direct mode does NOT bind identity: a participant can join under another's id.
    janus_public_url: str | None = None
    # The Janus `general.api_secret` (every Janus API request must carry it); when unset, read from
    # <data_dir>/janus/janus.json for the Janus `townhall janus start` runs.
    janus_api_secret: str | None = None
    # The AudioBridge admin_key; when unset, read from <data_dir>/janus/janus.json.
    janus_admin_key: str | None = None
    janus_timeout: float = 10.0  # seconds per Janus API request
    # Seconds between sweeps of the watched Janus rooms (listparticipants) that mute whoever is heard
    # without being allowed to publish (a backstop to the events); 0 disables the sweep.
    janus_sweep_interval: float = Field(15.0, ge=0)
    # Large rooms (Janus): once a room's AudioBridge holds this many listeners, further listeners get
    # the room's mix from a Streaming mountpoint (one rtp_forward, encoded once) instead of joining the
    # bridge, where each listener costs an Opus encode. Their clients must speak the Streaming plugin
    # (`janus:<url>?stream=<id>&pin=<pin>`). 0: every listener joins the bridge.
    large_room_listeners: int = Field(0, ge=0)
    livekit_url: str | None = None  # e.g. wss://livekit.example.org (clients and the RoomService API)
    livekit_api_url: str | None = None  # RoomService base URL when it differs (default: livekit_url as http(s))
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = None
    # Seconds a join token is valid: short, so a kicked or demoted user cannot come back with it
    # (LiveKit refreshes the tokens of connected participants itself).
    livekit_token_ttl: int = Field(120, ge=10)


class VoiceSettings(BaseModel):
    """The voice surface (Community Voice Chat API at /voice)."""

    # The shared service token callers send as `Authorization: Bearer`; when unset, generated once
    # and kept in <data_dir>/keys.json (`townhall keys`).
    service_token: str | None = None
    # The reference service trusts the caller's `user_role`; townhall enforces the community roles it
    # knows unless this is set.
    trust_caller_roles: bool = False
    max_request_bytes: int = Field(100_000, ge=1024)


class ExpertsSettings(BaseModel):
    """The experts surface (Clarity API + OAuth2 provider at /experts)."""

    authorization_code_ttl: int = Field(600, ge=30)  # seconds an authorization code can be redeemed
    access_token_ttl: int = Field(0, ge=0)  # seconds an oauth_token is valid; 0: until revoked
    # Seconds a dialled party has to join a call's media room before the call ends as unavailable.
    dial_timeout: int = Field(60, ge=5)
    # Seconds a party who dropped out of an answered call (not a hang-up) has to rejoin before the call
    # completes as of the drop; 0: any leave completes the call at once.
    reconnect_grace: int = Field(30, ge=0)
    max_request_bytes: int = Field(100_000, ge=1024)
    # Seconds the authorization page remembers a member who signed in on it (a signed cookie).
    signin_session_ttl: int = Field(900, ge=60)
    # Client applications one member may register (operators register more with the CLI).
    max_applications_per_member: int = Field(50, ge=1)
    # Per member and minute (fixed one-minute windows; in Redis across processes when redis_url is set):
    # direct messages sent, and calls requested or connected (call attempts). 0: no limit.
    messages_per_minute: int = Field(60, ge=0)
    calls_per_minute: int = Field(10, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOWNHALL_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("./data")
    # Default: SQLite file in the data dir. PostgreSQL: postgresql+asyncpg://user@host/db
    database_url: str | None = None
    # Unset: in-process event bus. Set (redis://127.0.0.1:6379/0): Redis pub/sub across processes.
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    log_format: Literal["json", "text"] = "json"
    # Base URL clients should use; derived from host/port when unset.
    public_url: str | None = None
    chat: ChatSettings = Field(default_factory=ChatSettings)
    social: SocialSettings = Field(default_factory=SocialSettings)
    forum: ForumSettings = Field(default_factory=ForumSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    experts: ExpertsSettings = Field(default_factory=ExpertsSettings)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'townhall.db').resolve()}"

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"
