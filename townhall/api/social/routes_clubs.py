"""Social surface routes: clubs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
