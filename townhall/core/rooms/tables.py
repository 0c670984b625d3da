"""Tables of rooms and scheduled events."""

from __future__ import annotations
