"""Phone sign-in helpers shared by the tests of every surface that signs members in by text message."""

from __future__ import annotations

import random
import re

from townhall.container import Container
from townhall.core.accounts import signin


def random_phone() -> str:
    return f"+1415{random.randint(2_000_000, 9_999_999)}"


def random_address() -> str:
    """A client IP address of its own (sign-in throttles count per address)."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


async def last_code(container: Container, phone: str) -> str:
    """The sign-in code the development (console) SMS backend last sent to ``phone``."""
    async with container.read() as conn:
        found = await signin.last_sms(conn, phone)
    assert found is not None, f"no text message to {phone}"
    match = re.search(r"code is (\d+)", found[0])
    assert match, found[0]
    return match.group(1)
