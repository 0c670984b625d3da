"""Profiles: names, usernames, bios, photos and the rest of the update_* endpoints."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from townhall.container import Container
from townhall.core.accounts import service as accounts

from .conftest import API, SignIn, unique_username


async def test_onboarding_sets_name_and_username_and_get_profile_shows_them(new_member: SignIn) -> None:
    username = unique_username("Ann")
    member = await new_member(username=username, name="Ann Example")
    profile = (await member.ok("get_profile", {"user_id": member.user_id}))["user_profile"]
    assert profile["name"] == "Ann Example" and profile["username"] == username
    assert profile["num_followers"] == 0 and profile["num_following"] == 0
    assert profile["clubs"] == [] or isinstance(profile["clubs"], list)
    assert profile["time_created"].endswith("+00:00")
    me = await member.ok("me")
    assert me["user_profile"] == {"user_id": member.user_id, "name": "Ann Example", "photo_url": None,
                                  "username": username}
    by_username = (await member.ok("get_profile", {"username": username.upper()}))["user_profile"]
    assert by_username["user_id"] == member.user_id


async def test_usernames_are_unique_case_insensitively_with_the_seed_error_texts(new_member: SignIn) -> None:
    first, second = await new_member(), await new_member()
    taken = unique_username("Taken")
    await first.ok("update_username", {"username": taken})
    clash = await second.call("update_username", {"username": taken.lower()})
    assert clash.status_code == 400
    assert clash.json() == {"success": False,
                            "error_message": "This username has already been taken by a different user."}
    for bad in ("", "a", "has space", "x" * 17, "admin", "semi;colon", None, 5):
        refused = await second.call("update_username", {"username": bad})
        assert refused.status_code == 400, bad
        assert refused.json() == {"success": False,
                                  "error_message": "This username is not allowed. Please try another one."}
    await first.ok("update_username", {"username": taken.upper()})  # your own, in other letters


async def test_profile_fields_update_and_are_validated(new_member: SignIn) -> None:
    member = await new_member()
    await member.ok("update_bio", {"bio": "Hello\nworld"})
    await member.ok("update_displayname", {"name": "Annie"})
    await member.ok("update_skintone", {"skintone": 3})
    await member.ok("update_twitter_username", {"username": "@ann_example"})
    await member.ok("update_instagram_username", {"username": "ann.example"})
    await member.ok("add_email", {"email": "Ann@Example.org"})
    profile = (await member.ok("get_profile"))["user_profile"]
    assert (profile["bio"], profile["displayname"], profile["skintone"]) == ("Hello\nworld", "Annie", 3)
    assert (profile["twitter"], profile["instagram"]) == ("ann_example", "ann.example")
    assert profile["has_verified_email"] is True and (await member.ok("me"))["email"] == "ann@example.org"
    for endpoint, body in [("update_skintone", {"skintone": 9}), ("add_email", {"email": "nope"}),
                           ("update_bio", {"bio": "x" * 3000}), ("update_name", {"name": "  "}),
                           ("update_twitter_username", {"username": "no spaces please"})]:
        refused = await member.call(endpoint, body)
        assert refused.status_code == 400 and refused.json()["success"] is False, endpoint


async def test_the_name_is_the_same_user_the_chat_surface_sees(new_member: SignIn, container: Container) -> None:
    member = await new_member(name="Chat Person")
    async with container.read() as conn:
        user = await accounts.get_user(conn, member.user_id)
    assert user.name == "Chat Person" and user.chat_id == str(member.user_id)


def _png(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 50, 50)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_a_photo_upload_is_checked_stored_and_served(new_member: SignIn, client: httpx.AsyncClient) -> None:
    member = await new_member()
    answer = await member.http.post(f"{API}/update_photo", headers=member.headers,
                                    files={"file": ("me.png", _png(), "image/png")})
    assert answer.status_code == 200, answer.text
    url = answer.json()["photo_url"]
    assert (await member.ok("me"))["user_profile"]["photo_url"] == url
    served = await client.get("/social" + url.split("/social", 1)[1])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size == (40, 30)
    replaced = await member.http.post(f"{API}/update_photo", headers=member.headers,
                                      files={"file": ("me.png", _png((2000, 1000)), "image/png")})
    newer = replaced.json()["photo_url"]
    assert (await client.get("/social" + url.split("/social", 1)[1])).status_code == 404  # the old file is gone
    shrunk = await client.get("/social" + newer.split("/social", 1)[1])
    assert Image.open(io.BytesIO(shrunk.content)).size == (1024, 512)


async def test_a_photo_that_is_no_image_or_too_big_is_refused(new_member: SignIn) -> None:
    member = await new_member()
    fake = await member.http.post(f"{API}/update_photo", headers=member.headers,
                                  files={"file": ("me.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg")})
    assert fake.status_code == 400 and fake.json()["success"] is False
    missing = await member.http.post(f"{API}/update_photo", headers=member.headers,
                                     files={"other": ("me.png", _png(), "image/png")})
    assert missing.status_code == 400
    not_multipart = await member.call("update_photo", {"file": "x"})
    assert not_multipart.status_code == 400
    huge = await member.http.post(f"{API}/update_photo", headers=member.headers,
                                  files={"file": ("me.png", b"\0" * 5_100_000, "image/png")})
    assert huge.status_code == 413 and huge.json()["success"] is False


async def test_profiles_show_their_clubs_and_topics_and_following_lists_followed_clubs(
    new_member: SignIn, container: Container
) -> None:
    from townhall.core.communities import service as communities
    from townhall.core.social import topics

    owner, viewer = await new_member(), await new_member()
    async with container.read() as conn:
        topic = next(child for parent in await topics.get_all_topics(conn) for child in parent.children)
    async with container.uow() as uow:
        club = await communities.do_create_club(uow, owner.user_id, name=f"Club {unique_username()}",
                                                description="About things")
        await topics.do_add_user_topic(uow, owner.user_id, topic.id)
    profile = (await viewer.ok("get_profile", {"user_id": owner.user_id}))["user_profile"]
    assert [c["club_id"] for c in profile["clubs"]] == [club.id] and profile["clubs"][0]["name"] == club.name
    assert profile["topics"] == [{"id": topic.id, "title": topic.title, "abbreviated_title": topic.abbreviated_title}]
    following = await owner.ok("get_following", {"user_id": owner.user_id})
    assert [c["club_id"] for c in following["clubs"]] == [club.id]  # creators follow their club


async def test_replacing_a_photo_never_deletes_a_file_of_another_user(
    new_member: SignIn, container: Container, client: httpx.AsyncClient
) -> None:
    from sqlalchemy import update

    from townhall.core.accounts.tables import users

    owner, other = await new_member(), await new_member()
    answer = await owner.http.post(f"{API}/update_photo", headers=owner.headers,
                                   files={"file": ("me.png", _png(), "image/png")})
    owners_url = answer.json()["photo_url"]
    async with container.uow() as uow:  # e.g. set through another surface: the URL of someone else's photo
        await uow.conn.execute(update(users).where(users.c.id == other.user_id).values(image=owners_url))
    replaced = await other.http.post(f"{API}/update_photo", headers=other.headers,
                                     files={"file": ("me.png", _png(), "image/png")})
    assert replaced.status_code == 200, replaced.text
    assert (await client.get("/social" + owners_url.split("/social", 1)[1])).status_code == 200


async def test_a_photo_in_a_format_other_than_jpeg_png_webp_or_gif_is_refused(new_member: SignIn) -> None:
    member = await new_member()
    for fmt in ("BMP", "TIFF"):
        buffer = io.BytesIO()
        Image.new("RGB", (20, 20), (1, 2, 3)).save(buffer, fmt)
        refused = await member.http.post(f"{API}/update_photo", headers=member.headers,
                                         files={"file": ("me.img", buffer.getvalue(), "image/bmp")})
        assert refused.status_code == 400 and refused.json()["success"] is False, fmt
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(buffer, "WEBP")
    accepted = await member.http.post(f"{API}/update_photo", headers=member.headers,
                                      files={"file": ("me.webp", buffer.getvalue(), "image/webp")})
    assert accepted.status_code == 200, accepted.text
