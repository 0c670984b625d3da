"""The official ``pubnub`` SDK (PyPI, asyncio flavour), configured only with what join_channel
answers (``pubnub_origin``, ``pubnub_token`` as its auth key, the user id as its uuid), against a
real ``townhall serve``: it receives a room's events as the real ``clubhouse-py`` client runs the
room, and it is refused the channels its auth key does not grant. Also on the real server: a
long-poll whose client went away is dropped at once (uvicorn tells the app, the ASGI test client
cannot)."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from clubhouse_session import signed_in, user_id_of
from pubnub.callbacks import SubscribeCallback
from pubnub.endpoints.pubsub.subscribe import Subscribe
from pubnub.enums import PNReconnectionPolicy, PNStatusCategory
from pubnub.models.consumer.common import PNStatus
from pubnub.models.consumer.pubsub import PNMessageResult
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub_asyncio import PubNubAsyncio, SubscribeListener

from townhall.config import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SUB_KEY = "sub-c-clubhouse"  # any: townhall does not check it
BOUND = 15.0  # seconds a wait may take before the test fails (never a timing assertion)


def channels_of(code: str, user_id: int, *, speaker: bool) -> list[str]:
    return [f"users.{user_id}", f"channel_all.{code}", f"channel_user.{code}.{user_id}",
            *([f"channel_speakers.{code}"] if speaker else [])]


def client_for(entered: dict[str, Any], user_id: int) -> PubNubAsyncio:
    """A PubNub client configured the way a Clubhouse app does it from join_channel's answer."""
    config = PNConfiguration()
    config.subscribe_key = SUB_KEY
    config.uuid = str(user_id)
    config.auth_key = entered["pubnub_token"]
    config.origin = entered["pubnub_origin"]
    config.ssl = False
    config.reconnect_policy = PNReconnectionPolicy.NONE  # a refusal shows at once
    return PubNubAsyncio(config)


Subscribed = tuple[PubNubAsyncio, SubscribeListener]


class Statuses(SubscribeCallback):
    """The statuses the SDK announces to its listeners."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[PNStatus] = asyncio.Queue()

    def status(self, pubnub: Any, status: PNStatus) -> None:
        self.queue.put_nowait(status)


@pytest.fixture
async def subscribe() -> AsyncIterator[Callable[..., Any]]:
    """``await subscribe(entered, user_id, channels)``: a connected SDK client and its listener."""
    made: list[PubNubAsyncio] = []

    async def make(entered: dict[str, Any], user_id: int, channels: list[str], *,
                   presence: bool = False) -> Subscribed:
        pubnub = client_for(entered, user_id)
        made.append(pubnub)
        listener = SubscribeListener()
        pubnub.add_listener(listener)
        subscription = pubnub.subscribe().channels(channels)
        (subscription.with_presence() if presence else subscription).execute()
        await asyncio.wait_for(listener.wait_for_connect(), BOUND)
        return pubnub, listener

    yield make
    for pubnub in made:
        await asyncio.wait_for(pubnub.stop(), BOUND)


async def next_action(listener: SubscribeListener, action: str) -> PNMessageResult:
    """The next message with ``action`` (earlier ones are skipped)."""
    while True:
        message: PNMessageResult = await asyncio.wait_for(listener.message_queue.get(), BOUND)
        if message.message["action"] == action:
            return message


async def call(method: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """A clubhouse-py call, off the event loop the PubNub client runs on; must succeed."""
    answer = await asyncio.wait_for(asyncio.to_thread(method, *args), BOUND)
    assert answer["success"] is True, answer
    return answer


async def test_the_pubnub_sdk_follows_a_room_from_creation_to_end(
        server: Any, settings: Settings, run_townhall: Any, subscribe: Callable[..., Any]) -> None:
    ada = signed_in(server, settings, run_townhall, "Ada")
    bob = signed_in(server, settings, run_townhall, "Bob")
    cat = signed_in(server, settings, run_townhall, "Cat")
    ada_id, bob_id = user_id_of(ada), user_id_of(bob)
    made = await call(ada.create_channel, "Realtime rooms")
    code = made["channel"]
    assert made["pubnub_origin"] == server.base_url.split("://", 1)[1]
    # with presence: the -pnpres channels are accepted (and stay quiet)
    _, ada_hears = await subscribe(made, ada_id, channels_of(code, ada_id, speaker=True), presence=True)

    joined = await call(bob.join_channel, code)
    bob_pubnub, bob_hears = await subscribe(joined, bob_id, channels_of(code, bob_id, speaker=False))
    heard = await next_action(ada_hears, "join_channel")
    assert heard.channel == f"channel_all.{code}" and heard.publisher == str(bob_id)
    assert heard.message["user_profile"]["user_id"] == bob_id and heard.message["user_profile"]["name"] == "Bob"
    assert len(str(heard.timetoken)) == 17

    await call(bob.audience_reply, code, True, False)
    heard = await next_action(ada_hears, "raise_hands")
    assert heard.channel == f"channel_speakers.{code}" and heard.message["user_profile"]["user_id"] == bob_id

    await call(ada.invite_speaker, code, bob_id)
    heard = await next_action(bob_hears, "invite_speaker")
    assert heard.channel == f"channel_user.{code}.{bob_id}"
    assert heard.message == {"action": "invite_speaker", "channel": code, "from_user_id": ada_id, "from_name": "Ada"}

    await call(bob.accept_speaker_invite, code, ada_id)
    for hears in (ada_hears, bob_hears):
        heard = await next_action(hears, "add_speaker")
        assert heard.message["user_profile"]["user_id"] == bob_id and heard.message["user_profile"]["is_speaker"]
    # a speaker now: bob may read the speakers' channel with the same auth key
    bob_pubnub.subscribe().channels([f"channel_speakers.{code}"]).execute()
    await call(cat.join_channel, code)
    await call(cat.audience_reply, code, True, False)
    heard = await next_action(bob_hears, "raise_hands")
    assert heard.channel == f"channel_speakers.{code}" and heard.message["user_profile"]["user_id"] == user_id_of(cat)

    await call(ada.end_channel, code)
    for hears in (ada_hears, bob_hears):
        heard = await next_action(hears, "end_channel")
        assert heard.channel == f"channel_all.{code}" and heard.message == {"action": "end_channel", "channel": code}
    assert bob_hears.error_queue.empty() and ada_hears.error_queue.empty()


async def test_the_pubnub_sdk_is_refused_channels_its_auth_key_does_not_grant(
        server: Any, settings: Settings, run_townhall: Any) -> None:
    ada = signed_in(server, settings, run_townhall, "Ada")
    bob = signed_in(server, settings, run_townhall, "Bob")
    made = await call(ada.create_channel, "Closed doors")
    code = made["channel"]
    joined = await call(bob.join_channel, code)
    pubnub = client_for(joined, user_id_of(bob))
    try:
        for channels in ([f"channel_speakers.{code}"], [f"users.{user_id_of(ada)}"],
                         [f"channel_user.{code}.{user_id_of(ada)}"], ["channel_all.elsewhere"]):
            refused = await Subscribe(pubnub).channels(channels).timetoken(0).future()
            assert refused.status.is_error(), channels
            assert refused.status.category == PNStatusCategory.PNAccessDeniedCategory
            assert refused.status.status_code == 403
        allowed = await Subscribe(pubnub).channels(channels_of(code, user_id_of(bob), speaker=False)).future()
        assert not allowed.status.is_error() and allowed.result["m"] == []
        # the subscribe loop gives up (reconnection policy NONE) and tells its listener
        statuses = Statuses()
        pubnub.add_listener(statuses)
        pubnub.subscribe().channels([f"channel_speakers.{code}"]).execute()
        status = await asyncio.wait_for(statuses.queue.get(), BOUND)
        assert status.category == PNStatusCategory.PNConnectionErrorCategory
        assert len(str(int((await pubnub.time().future()).result))) == 17
    finally:
        await asyncio.wait_for(pubnub.stop(), BOUND)


def subscribers_waiting(server: Any) -> float:
    """The server's ``townhall_pubnub_subscribers`` gauge (long-polls waiting)."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    found = re.search(r"^townhall_pubnub_subscribers ([0-9.e+]+)$", text, re.MULTILINE)
    assert found, "no townhall_pubnub_subscribers gauge in /metrics"
    return float(found.group(1))


async def until(check: Callable[[], bool]) -> None:
    """Wait (at most BOUND seconds) until ``check()`` holds."""
    async with asyncio.timeout(BOUND):
        while not await asyncio.to_thread(check):
            await asyncio.sleep(0.05)


async def test_a_subscriber_that_goes_away_mid_poll_is_forgotten_at_once(
        server: Any, settings: Settings, run_townhall: Any) -> None:
    ada = signed_in(server, settings, run_townhall, "Ada")
    made = await call(ada.create_channel, "Short stay")
    channels = ",".join(channels_of(made["channel"], user_id_of(ada), speaker=True))
    path = f"/v2/subscribe/{SUB_KEY}/{channels}/0"
    params = {"tt": "0", "uuid": str(user_id_of(ada)), "auth": made["pubnub_token"]}
    handshake = await asyncio.to_thread(httpx.get, f"{server.base_url}{path}", params=params, timeout=BOUND)
    params["tt"] = handshake.json()["t"]["t"]
    before = await asyncio.to_thread(subscribers_waiting, server)
    host, port = server.base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    target = f"{path}?{urllib.parse.urlencode(params)}"
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    await until(lambda: subscribers_waiting(server) == before + 1)  # nothing new: it waits
    writer.close()
    await until(lambda: subscribers_waiting(server) == before)  # not after the whole 280 s
