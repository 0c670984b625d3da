"""``townhall demo``: a small community to look around in, on every surface at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from townhall.cli.common import data_dir_option, make_settings, run_with_container

if TYPE_CHECKING:
    from townhall.container import Container


@click.command()
@click.option("--with", "with_phone", metavar="PHONE",
              help="Also make the account of PHONE (signed in once already) part of the demo")
@data_dir_option
def demo(with_phone: str | None, data_dir: Path | None) -> None:
    """Seed a small community: people who follow each other, clubs, topics, upcoming events, forum
    boards with posts, experts with rates and needs (the clubs are their organizations). Safe to run again. Sign in as a demo member (social surface) with
    their number and the code `townhall sms last NUMBER` prints (console SMS)."""
    from townhall.core.accounts import signin
    from townhall.core.accounts.profiles import get_profiles
    from townhall.core.communities.demo import seed_demo as seed_clubs
    from townhall.core.errors import Invalid
    from townhall.core.experts.demo import seed_demo as seed_experts
    from townhall.core.forum.demo import seed_demo as seed_forum
    from townhall.core.social import demo as people

    settings = make_settings(data_dir=data_dir)
    phone = None
    if with_phone:
        try:
            phone = signin.normalize_phone(with_phone)
        except Invalid as exc:
            raise click.BadParameter(exc.message, param_hint="--with") from exc

    async def work(container: Container) -> tuple[list[Any], Any, Any, Any, int | None]:
        async with container.uow() as uow:
            ids = await people.seed_people(uow, invites_per_user=settings.social.invites_per_user)
            extra = await signin.user_of_phone(uow.conn, phone) if phone else None
            if phone and extra is None:
                raise click.ClickException(f"{phone} has not signed in yet: sign in once, then run this again")
            if extra is not None:
                await people.do_follow_people(uow, extra, ids)
            everyone = [*ids, *([extra] if extra is not None else [])]
            clubs = await seed_clubs(uow, everyone)
            forum = await seed_forum(uow, everyone)
            experts = await seed_experts(uow, ids)
        async with container.read() as conn:
            found = await get_profiles(conn, ids)
        return [(found[i], p[0]) for i, p in zip(ids, people.PEOPLE, strict=True)], clubs, forum, experts, extra

    members, clubs, forum, experts, extra = run_with_container(settings, work)
    click.echo("Demo people (sign in with the number, then `townhall sms last NUMBER` for the code):")
    for profile, number in members:
        click.echo(f"  {profile.user_id:>6}  @{profile.username or '-':<12} {profile.name:<16} {number}")
    click.echo(f"Clubs: {len(clubs.club_ids)}  upcoming events: {len(clubs.event_ids)}  "
               f"forum boards: {len(forum.board_ids)}  experts: {len(experts.expert_ids)}  "
               f"needs: {len(experts.need_ids)}")
    if extra is not None:
        click.echo(f"User {extra} now follows the demo people and belongs to the demo clubs.")


COMMANDS: list[click.Command] = [demo]
