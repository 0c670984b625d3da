"""The PyPI Clubhouse client (``clubhouse-py``, unchanged apart from its ``API_URL``) drives a
real ``townhall serve``: phone sign-in with the code the console SMS backend keeps (read back with
``townhall sms last``), onboarding, profiles, following, suggestions, search, notifications,
token refresh and logout.

Every test makes its own users (random numbers) because the server is shared by the session.
"""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from clubhouse.clubhouse import Clubhouse
from PIL import Image

from tests.phones import random_phone

if TYPE_CHECKING:
    from conftest import RunTownhall, Server


@pytest.fixture(autouse=True)
def api_url(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"{server.base_url}/social/api"
    monkeypatch.setattr(Clubhouse, "API_URL", url)
    yield url


SignedIn = Callable[..., tuple[Clubhouse, dict[str, Any]]]


@pytest.fixture
def sign_in(server: Server, run_townhall: RunTownhall, migrated_db_url: str) -> SignedIn:
    """Sign a new number in as the app does; the code comes from ``townhall sms last``."""

    def code_for(phone: str) -> str:
        text = run_townhall("sms", "last", phone, "--data-dir", str(server.data_dir),
                            env={"TOWNHALL_DATABASE_URL": migrated_db_url}).stdout
        return text.split("code is ")[1].split()[0]

    def make(phone: str | None = None) -> tuple[Clubhouse, dict[str, Any]]:
        phone = phone or random_phone()
        anonymous = Clubhouse()
        started = anonymous.start_phone_number_auth(phone)
        assert started["success"] is True and started["is_blocked"] is False, started
        done = anonymous.complete_phone_number_auth(phone, None, code_for(phone))
        assert done["success"] is True and done["is_verified"] is True, done
        return Clubhouse(user_id=str(done["user_profile"]["user_id"]), user_token=done["auth_token"],
                         user_device=str(uuid.uuid4())), done

    return make


def test_a_new_member_signs_in_and_onboards(sign_in: SignedIn) -> None:
    client, done = sign_in()
    assert done["is_waitlisted"] is False and done["is_onboarding"] is True
    assert done["access_token"] and done["refresh_token"]
    assert client.check_waitlist_status() == {"success": True, "is_waitlisted": False, "is_onboarding": True}
    assert client.update_name("Ada Lovelace")["success"] is True
    username = f"ada{secrets.token_hex(4)}"
    assert client.update_username(username) == {"success": True, "error_message": None}
    assert client.update_bio("Counting engines")["success"] is True
    assert client.update_skintone(2)["success"] is True
    assert client.add_email("ada@example.org")["success"] is True
    me = client.me(return_blocked_ids=True, return_following_ids=True)
    assert me["user_profile"] == {"user_id": done["user_profile"]["user_id"], "name": "Ada Lovelace",
                                  "photo_url": None, "username": username}
    assert me["following_ids"] == [] and me["blocked_ids"] == []
    assert client.check_waitlist_status()["is_onboarding"] is False
    assert client.get_welcome_channel() == {"success": True, "is_empty": True}
    assert client.get_release_notes()["success"] is True
    assert client.check_for_update(is_testflight=True)["has_update"] is False
    settings = client.get_settings()
    assert settings["notifications_frequency"] == 3


def test_a_taken_username_gets_the_seed_error(sign_in: SignedIn) -> None:
    first, _ = sign_in()
    second, _ = sign_in()
    name = f"dup{secrets.token_hex(4)}"
    assert first.update_username(name)["success"] is True
    assert second.update_username(name.upper()) == {
        "success": False, "error_message": "This username has already been taken by a different user."}


def test_photo_upload_through_the_client(sign_in: SignedIn, tmp_path: Path) -> None:
    client, _ = sign_in()
    path = tmp_path / "me.jpg"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(path, "JPEG")
    answer = client.update_photo(str(path))
    assert answer["success"] is True
    photo = requests.get(answer["photo_url"], timeout=10)
    assert photo.status_code == 200 and Image.open(io.BytesIO(photo.content)).size == (64, 64)
    assert client.me()["user_profile"]["photo_url"] == answer["photo_url"]


def test_follow_search_suggest_and_notify(sign_in: SignedIn) -> None:
    alice, alice_done = sign_in()
    bob, bob_done = sign_in()
    carol, carol_done = sign_in()
    alice_id, bob_id, carol_id = (d["user_profile"]["user_id"] for d in (alice_done, bob_done, carol_done))
    tag = f"grace{secrets.token_hex(3)}"
    assert bob.update_name("Grace Hopper")["success"] is True
    assert bob.update_username(tag)["success"] is True

    found = alice.search_users(tag)
    assert found["success"] is True and [u["user_id"] for u in found["users"]] == [bob_id]
    assert alice.follow(bob_id)["success"] is True
    assert carol.follow(bob_id)["success"] is True
    assert alice.follow_multiple([carol_id])["success"] is True

    following = alice.get_following(alice_id)
    assert {u["user_id"] for u in following["users"]} == {bob_id, carol_id} and following["count"] == 2
    followers = bob.get_followers(bob_id)
    assert {u["user_id"] for u in followers["users"]} == {alice_id, carol_id}
    assert [u["user_id"] for u in alice.get_mutual_follows(bob_id)["users"]] == [carol_id]
    profile = alice.get_profile(bob_id)["user_profile"]
    assert profile["username"] == tag and profile["num_followers"] == 2 and profile["follows_me"] is False
    assert profile["mutual_follows_count"] == 1

    notes = bob.get_notifications()
    assert notes["success"] is True and {n["user_profile"]["user_id"] for n in notes["notifications"]} == {
        alice_id, carol_id}
    assert all(n["type"] == 1 for n in notes["notifications"])
    assert bob.get_actionable_notifications()["notifications"] == []

    suggested = carol.get_suggested_follows_all()
    assert suggested["success"] is True and alice_id in {u["user_id"] for u in suggested["users"]}
    assert bob_id not in {u["user_id"] for u in suggested["users"]}  # already followed
    similar = carol.get_suggested_follows_similar(user_id=bob_id)
    assert similar["success"] is True and bob_id not in {u["user_id"] for u in similar["users"]}
    friends = carol.get_suggested_follows_friends_only(contacts=[{"name": "A", "phone_number": "+15550000000"}])
    assert friends["success"] is True
    assert alice.get_online_friends()["success"] is True
    assert alice.update_follow_notifications(bob_id, 1)["success"] is True

    assert alice.unfollow(bob_id)["success"] is True
    assert alice.block(bob_id)["success"] is True
    assert bob.follow(alice_id)["success"] is False
    assert alice.unblock(bob_id)["success"] is True


def test_tokens_refresh_and_logout(sign_in: SignedIn) -> None:
    client, done = sign_in()
    fresh = client.refresh_token(done["refresh_token"])
    assert set(fresh) == {"access", "refresh"}
    assert client.refresh_token("not-a-token") == {"detail": "Token is invalid or expired", "code": "token_not_valid"}
    assert client.logout()["success"] is True
    assert client.me() == {"detail": "Invalid token."}


def test_wrong_codes_are_refused(server: Server) -> None:
    anonymous = Clubhouse()
    phone = random_phone()
    assert anonymous.start_phone_number_auth(phone)["success"] is True
    wrong = anonymous.complete_phone_number_auth(phone, None, "99999")
    assert wrong["success"] is False and wrong["is_verified"] is False
    assert wrong["number_of_attempts_remaining"] == 4
