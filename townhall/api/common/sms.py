"""Phone sign-in shared by the surfaces that sign members in with a texted code (social; the
experts surface's authorization pages): the SMS sender chosen by ``settings.social.sms_backend``
and the code policy, so a member gets the same texts and the same throttles wherever they sign in."""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from townhall.config import Settings
from townhall.container import Container
from townhall.core.accounts import signin
from townhall.integrations.sms import ConsoleSms, SmsSender, TwilioSms

log = logging.getLogger(__name__)


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_exposed(settings: Settings) -> bool:
    """Log a WARNING when the development (console) SMS backend, which logs and keeps sign-in
    codes, runs behind a public ``public_url``; True when it did."""
    if settings.social.sms_backend != "console" or not settings.public_url or is_loopback_url(settings.public_url):
        return False
    log.warning("the development SMS backend (console) is active while public_url is %s: sign-in codes are "
                "written to the log and never delivered; set TOWNHALL_SOCIAL__SMS_BACKEND=twilio in production",
                settings.public_url)
    return True


def build_sender(container: Container) -> SmsSender:
    social = container.settings.social
    if social.sms_backend == "twilio":
        missing = [name for name in ("twilio_account_sid", "twilio_auth_token", "twilio_from")
                   if not getattr(social, name)]
        if missing:
            raise RuntimeError(f"sms_backend twilio needs TOWNHALL_SOCIAL__{missing[0].upper()}")
        return TwilioSms(social.twilio_account_sid or "", social.twilio_auth_token or "", social.twilio_from or "",
                         base_url=social.twilio_base_url)

    async def record(to: str, body: str) -> None:
        async with container.uow() as uow:
            await signin.do_record_sms(uow, to, body, keep_seconds=social.code_ttl)

    warn_if_exposed(container.settings)
    return ConsoleSms(record)


def code_policy(container: Container) -> signin.CodePolicy:
    social = container.settings.social
    return signin.CodePolicy(
        secret=container.credentials.social_jwt_secret, length=social.code_length, ttl=social.code_ttl,
        attempts=social.code_attempts, sends_per_number=social.sends_per_number_per_hour,
        sends_per_address=social.sends_per_address_per_hour,
    )
