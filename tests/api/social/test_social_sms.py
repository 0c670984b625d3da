"""Sign-in codes stay secret: only the development SMS backend logs them, its texts are kept no
longer than a code lives, and running it behind a public URL is warned about."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import insert, select

from townhall.api.common.sms import build_sender, warn_if_exposed
from townhall.config import Settings, SocialSettings
from townhall.container import Container
from townhall.core.accounts import signin
from townhall.core.accounts.tables import sms_messages
from townhall.core.clock import now
from townhall.integrations.sms import ConsoleSms, TwilioSms


async def test_the_console_backend_logs_the_code_marked_as_the_development_backend(
    caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="townhall.integrations.sms"):
        await ConsoleSms().send("+14155550100", "Your townhall verification code is 4321")
    [record] = [r for r in caplog.records if "4321" in r.getMessage()]
    assert record.levelno == logging.INFO and "development SMS backend" in record.getMessage()


async def test_the_twilio_backend_never_logs_the_message_body(caplog: pytest.LogCaptureFixture) -> None:
    sender = TwilioSms("AC123", "secret", "+14155550199", base_url="http://127.0.0.1:9")
    for status in (201, 400):
        sender._http = httpx.AsyncClient(transport=httpx.MockTransport(
            lambda _, s=status: httpx.Response(s, json={"status": "queued", "code": 1, "message": "no"})))
        with caplog.at_level(logging.DEBUG):
            try:
                await sender.send("+14155550100", "Your townhall verification code is 8765")
            except Exception:
                pass
    await sender.close()
    assert not [r for r in caplog.records if "8765" in r.getMessage()]


async def test_recording_a_console_text_forgets_those_older_than_a_code_lives(container: Container) -> None:
    stamp = now()
    phone = "+10000000077"
    async with container.uow() as uow:
        await uow.conn.execute(insert(sms_messages).values(phone=phone, body="code is 1111",
                                                           created_at=stamp - timedelta(seconds=700)))
    async with container.uow() as uow:
        await signin.do_record_sms(uow, phone, "code is 2222", keep_seconds=600)
    async with container.read() as conn:
        bodies = list((await conn.execute(select(sms_messages.c.body).where(sms_messages.c.phone == phone)))
                      .scalars())
    assert bodies == ["code is 2222"]


def test_the_console_backend_behind_a_public_url_is_warned_about_at_startup(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    public = settings.model_copy(update={"public_url": "https://townhall.example.com"})
    with caplog.at_level(logging.WARNING, logger="townhall.api.common.sms"):
        build_sender(SimpleNamespace(settings=public))  # type: ignore[arg-type]
    assert any("development SMS backend" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert not warn_if_exposed(settings.model_copy(update={"public_url": "http://127.0.0.1:8000"}))
    assert not warn_if_exposed(settings.model_copy(update={"public_url": "http://localhost:8000"}))
    twilio = settings.model_copy(update={"public_url": "https://townhall.example.com", "social": SocialSettings(
        sms_backend="twilio", twilio_account_sid="AC1", twilio_auth_token="t", twilio_from="+14155550199")})
    assert not warn_if_exposed(twilio)
