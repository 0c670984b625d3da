"""Commands of The forum surface (habitate API) and the job worker."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
