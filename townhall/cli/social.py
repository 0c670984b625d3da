"""Commands of The social surface (Clubhouse API)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
