"""Tables of communities."""

from __future__ import annotations
