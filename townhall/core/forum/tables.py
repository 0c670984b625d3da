"""Tables of the forum domain."""

from __future__ import annotations
