"""The Twilio SMS backend against a loopback stand-in speaking Twilio's REST Messages API."""

from __future__ import annotations

import base64
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from townhall.app import create_app
from townhall.config import Settings, SocialSettings
from townhall.container import Container
from townhall.integrations.sms import SmsError, TwilioSms

SID, TOKEN, FROM = "AC" + "0" * 32, "secret-token", "+15005550006"


@dataclass
class Twilio:
    """A stand-in for api.twilio.com: records messages, refuses numbers listed in ``invalid``."""

    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)


@pytest.fixture
def twilio() -> Iterator[Twilio]:
    state = Twilio()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._answer(401, {"code": 20003, "message": "Authentication Error - invalid username",
                                   "status": 401})
                return
            if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
                self._answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                return
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if form.get("To") in state.invalid:
                self._answer(400, {"code": 21211, "message": f"The 'To' number {form['To']} is not a valid phone "
                                                             "number.", "status": 400})
                return
            state.messages.append(form)
            self._answer(201, {"sid": "SM" + "1" * 32, "status": "queued", "to": form.get("To"),
                               "from": form.get("From"), "body": form.get("Body")})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


async def test_a_message_is_posted_as_twilio_expects(twilio: Twilio) -> None:
    sender = TwilioSms(SID, TOKEN, FROM, base_url=twilio.url)
    await sender.send("+14155550100", "Your code is 1234")
    await sender.close()
    assert twilio.messages == [{"To": "+14155550100", "From": FROM, "Body": "Your code is 1234"}]


async def test_a_refused_message_or_bad_credentials_raise(twilio: Twilio) -> None:
    twilio.invalid.add("+14155550101")
    sender = TwilioSms(SID, TOKEN, FROM, base_url=twilio.url)
    with pytest.raises(SmsError):
        await sender.send("+14155550101", "x")
    await sender.close()
    wrong = TwilioSms(SID, "wrong", FROM, base_url=twilio.url)
    with pytest.raises(SmsError):
        await wrong.send("+14155550100", "x")
    await wrong.close()
    assert twilio.messages == []


async def test_an_unreachable_provider_raises() -> None:
    sender = TwilioSms(SID, TOKEN, FROM, base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(SmsError):
        await sender.send("+14155550100", "x")
    await sender.close()


async def test_sign_in_texts_through_twilio_and_reports_a_failed_delivery(
    twilio: Twilio, settings: Settings, migrated_db_url: str
) -> None:
    configured = settings.model_copy(update={"social": SocialSettings(
        sms_backend="twilio", twilio_account_sid=SID, twilio_auth_token=TOKEN, twilio_from=FROM,
        twilio_base_url=twilio.url)})
    container = Container.build(configured)
    await container.start()
    app = create_app(configured, container)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(f"10.9.{random.randint(0, 255)}.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                phone = f"+1415{random.randint(2_000_000, 9_999_999)}"
                sent = await http.post("/social/api/start_phone_number_auth", json={"phone_number": phone})
                assert sent.status_code == 200 and sent.json()["success"] is True
                assert twilio.messages[-1]["To"] == phone and "code is" in twilio.messages[-1]["Body"]
                code = twilio.messages[-1]["Body"].split("code is ")[1].split()[0]
                done = await http.post("/social/api/complete_phone_number_auth",
                                       json={"phone_number": phone, "verification_code": code})
                assert done.status_code == 200 and done.json()["is_verified"] is True

                bad = f"+1415{random.randint(2_000_000, 9_999_999)}"
                twilio.invalid.add(bad)
                failed = await http.post("/social/api/start_phone_number_auth", json={"phone_number": bad})
                assert failed.status_code == 502
                assert failed.json()["success"] is False and "could not be sent" in failed.json()["error_message"]
    finally:
        await container.close()
