"""Text messages: ``SmsSender.send(to, body)``; backends ``console`` and ``twilio``.

``send`` raises ``SmsError`` when the message was not accepted for delivery, so a caller can tell
its user instead of pretending the code is on its way.

Sign-in codes are secrets. Only the ``console`` backend — the development default, which
delivers nothing — puts a message body (code included) in the log, at INFO under the marker
"development SMS backend", and hands it to ``record`` (the social surface keeps it for
``townhall sms last PHONE`` no longer than a code lives, see ``signin.do_record_sms``). The
social surface warns at startup when the console backend serves a public (non-loopback)
``public_url``. ``twilio`` never logs a body: only the number and the provider's answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx

log = logging.getLogger(__name__)


class SmsError(Exception):
    """The message could not be handed to the SMS provider."""


class SmsSender(Protocol):
    name: str

    async def send(self, to: str, body: str) -> None: ...

    async def close(self) -> None: ...


Recorder = Callable[[str, str], Awaitable[None]]


class ConsoleSms:
    """Development delivery: the message goes to the log and to ``record`` (townhall keeps it in
    the database so ``townhall sms last PHONE`` can print it from another process)."""

    name = "console"

    def __init__(self, record: Recorder | None = None) -> None:
        self.record = record

    async def send(self, to: str, body: str) -> None:
        log.info("development SMS backend (console, nothing is delivered): SMS to %s: %s", to, body,
                 extra={"sms_to": to})
        if self.record is not None:
            await self.record(to, body)

    async def close(self) -> None:
        return None


class TwilioSms:
    """Twilio's REST Messages API: ``POST {base}/2010-04-01/Accounts/{sid}/Messages.json`` with
    form fields To, From, Body and HTTP Basic auth ``sid:token``."""

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_number: str,
                 base_url: str = "https://api.twilio.com", timeout: float = 10.0) -> None:
        self.account_sid = account_sid
        self.from_number = from_number
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._http = httpx.AsyncClient(auth=(account_sid, auth_token), timeout=timeout)

    async def send(self, to: str, body: str) -> None:
        try:
            response = await self._http.post(self.url, data={"To": to, "From": self.from_number, "Body": body})
        except httpx.HTTPError as exc:
            log.warning("Twilio unreachable: %r", exc)
            raise SmsError("The text message could not be sent (the SMS provider is unreachable).") from exc
        if response.status_code >= 300:
            try:
                problem = response.json()
                detail = f"{problem.get('code')}: {problem.get('message')}"
            except ValueError:
                detail = response.text[:200]
            log.warning("Twilio refused a message to %s: HTTP %s %s", to, response.status_code, detail)
            raise SmsError("The text message could not be sent. Please check the number and try again.")
        try:
            status = response.json().get("status")
        except ValueError as exc:
            raise SmsError("The text message could not be sent (unexpected answer from the SMS provider).") from exc
        if status in ("failed", "undelivered", "canceled"):
            raise SmsError("The text message could not be sent. Please check the number and try again.")

    async def close(self) -> None:
        await self._http.aclose()
