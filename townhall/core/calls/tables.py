"""Tables of expert calls, needs and billing records (the calls core fills them in)."""

from __future__ import annotations
