"""Tables of the outbox and the job worker."""

from __future__ import annotations
