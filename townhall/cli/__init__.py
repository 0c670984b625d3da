"""The ``townhall`` command. Settings are built inside each command, from options and TOWNHALL_*.

Commands live in the modules of this package, a module per area; each lists its top-level
commands in ``COMMANDS``, added to the group here.
"""

from __future__ import annotations

import click

from townhall import __version__
from townhall.cli import demo, experts, forum, media, server, social
from townhall.cli.common import user_token

__all__ = ["cli", "main", "user_token"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="townhall")
def cli() -> None:
    """townhall: one community server speaking five wire APIs (Stream Chat, Clubhouse,
    Community Voice Chat, habitate, Clarity.fm).

    Every option can also be set in the environment as TOWNHALL_<NAME> (e.g. TOWNHALL_DATA_DIR,
    TOWNHALL_DATABASE_URL, TOWNHALL_REDIS_URL, TOWNHALL_LOG_FORMAT).
    """


for _module in (server, social, forum, experts, media, demo):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="townhall")
