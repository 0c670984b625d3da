"""A member's OAuth client applications over HTTP (/experts/v1/applications) and the operator's
``townhall oauth-app`` commands."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from tests.api.experts.oauth_fixtures import (
    REDIRECT_URI,
    TOKEN,
    Browser,
    authorize_query,
    basic,
    http_client,
    make_member,
    random_phone,
)
from townhall.cli import cli
from townhall.container import Container

APPS = "/experts/v1/applications"
ME = "/experts/v1/me"  # any call an application token may make


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


def as_member(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_member_registers_an_application_and_sees_its_secret_only_once(
        http: httpx.AsyncClient, container: Container) -> None:
    member = await make_member(container)
    made = await http.post(APPS, json={"name": "  My   app ", "redirect_uri": REDIRECT_URI},
                           headers=as_member(member.oauth_token))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["name"] == "My app" and body["redirect_uri"] == REDIRECT_URI and len(body["client_secret"]) >= 40
    assert body["created_at"].endswith("Z") and made.headers["cache-control"] == "no-store"
    listed = (await http.get(APPS, headers=as_member(member.oauth_token))).json()
    assert listed["total"] == 1 and "client_secret" not in listed["applications"][0]
    one = await http.get(f"{APPS}/{body['client_id']}", headers=as_member(member.oauth_token))
    assert one.status_code == 200 and one.json()["client_id"] == body["client_id"]


async def test_applications_are_private_to_the_member_who_registered_them(
        http: httpx.AsyncClient, container: Container) -> None:
    owner, other = await make_member(container), await make_member(container)
    made = (await http.post(APPS, data={"name": "Owned", "redirect_uri": REDIRECT_URI},
                            headers=as_member(owner.oauth_token))).json()
    path = f"{APPS}/{made['client_id']}"
    for method, url in (("GET", path), ("POST", f"{path}/secret"), ("DELETE", path)):
        answer = await http.request(method, url, headers=as_member(other.oauth_token))
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", (method, url)
    assert (await http.get(APPS, headers=as_member(other.oauth_token))).json()["applications"] == []
    assert (await http.get(APPS)).status_code == 401


@pytest.mark.parametrize("redirect_uri", ["", "/relative/callback", "ftp://host/cb", "https://host/cb#frag",
                                          "https:///no-host", "https://host/a b", "javascript:alert(1)",
                                          "https://host:99999/cb", 42])
async def test_a_redirect_uri_must_be_an_absolute_http_uri_without_fragment(
        http: httpx.AsyncClient, container: Container, redirect_uri: object) -> None:
    member = await make_member(container)
    answer = await http.post(APPS, json={"name": "App", "redirect_uri": redirect_uri},
                             headers=as_member(member.oauth_token))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "redirect_uri" in answer.json()["error_description"]


async def test_an_application_needs_a_name(http: httpx.AsyncClient, container: Container) -> None:
    member = await make_member(container)
    for name in (None, "", "   ", "x" * 101, ["a"]):
        answer = await http.post(APPS, json={"name": name, "redirect_uri": REDIRECT_URI},
                                 headers=as_member(member.oauth_token))
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", name
    not_an_object = await http.post(APPS, json=["x"], headers=as_member(member.oauth_token))
    assert not_an_object.status_code == 400


async def test_regenerating_the_secret_retires_the_old_one_and_the_tokens_issued_with_it(
        http: httpx.AsyncClient, container: Container) -> None:
    member = await make_member(container)
    made = (await http.post(APPS, json={"name": "Rotating", "redirect_uri": REDIRECT_URI},
                            headers=as_member(member.oauth_token))).json()
    client_id = made["client_id"]
    browser = Browser(http, container)
    got = await browser.authorize(authorize_query(client_id), random_phone())
    issued = (await http.post(TOKEN, data={"grant_type": "authorization_code", "code": got["code"],
                                           "client_id": client_id, "client_secret": made["client_secret"]})).json()
    pending = await browser.authorize(authorize_query(client_id), random_phone())
    assert (await http.get(ME, params={"oauth_token": issued["access_token"]})).status_code == 200
    fresh = await http.post(f"{APPS}/{client_id}/secret", headers=as_member(member.oauth_token))
    assert fresh.status_code == 200 and fresh.json()["client_secret"] != made["client_secret"]
    assert (await http.get(ME, params={"oauth_token": issued["access_token"]})).status_code == 401
    old = await http.post(TOKEN, data={"grant_type": "authorization_code", "code": pending["code"]},
                          headers=basic(client_id, made["client_secret"]))
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    new = await http.post(TOKEN, data={"grant_type": "authorization_code", "code": pending["code"]},
                          headers=basic(client_id, fresh.json()["client_secret"]))
    assert new.status_code == 400 and new.json()["error"] == "invalid_grant"  # codes of the old secret are void
    assert (await http.get(APPS, headers=as_member(member.oauth_token))).status_code == 200  # the member's own


async def test_deleting_an_application_revokes_its_tokens(http: httpx.AsyncClient, container: Container) -> None:
    member = await make_member(container)
    made = (await http.post(APPS, json={"name": "Short-lived", "redirect_uri": REDIRECT_URI},
                            headers=as_member(member.oauth_token))).json()
    got = await Browser(http, container).authorize(authorize_query(made["client_id"]), random_phone())
    token = (await http.post(TOKEN, data={"grant_type": "authorization_code", "code": got["code"]},
                             headers=basic(made["client_id"], made["client_secret"]))).json()["access_token"]
    deleted = await http.delete(f"{APPS}/{made['client_id']}", headers=as_member(member.oauth_token))
    assert deleted.status_code == 204
    assert (await http.get(ME, params={"oauth_token": token})).status_code == 401
    assert (await http.get(f"{APPS}/{made['client_id']}", headers=as_member(member.oauth_token))).status_code == 404
    gone = await Browser(http, container).open({"client_id": made["client_id"], "response_type": "code"})
    assert gone.status_code == 400


def test_the_operator_creates_lists_regenerates_and_deletes_applications(tmp_path: Path) -> None:
    runner, data_dir = CliRunner(), ["--data-dir", str(tmp_path)]

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*args, *data_dir])
        assert result.exit_code == 0, result.output
        return result.stdout

    made = json.loads(run("oauth-app", "create", "--name", "Partner", "--redirect-uri", REDIRECT_URI, "--json"))
    assert made["name"] == "Partner" and made["client_secret"]
    listed = json.loads(run("oauth-app", "list", "--json"))
    assert [(a["client_id"], a["owner_id"]) for a in listed] == [(made["client_id"], None)]
    assert "client_secret" not in listed[0]
    assert made["client_secret"] not in (tmp_path / "townhall.db").read_bytes().decode(errors="replace")
    fresh = run("oauth-app", "regenerate-secret", made["client_id"])
    assert f"client_id:     {made['client_id']}" in fresh and made["client_secret"] not in fresh
    assert "deleted application" in run("oauth-app", "delete", made["client_id"])
    assert json.loads(run("oauth-app", "list", "--json")) == []
    refused = runner.invoke(cli, ["oauth-app", "create", "--name", "Bad", "--redirect-uri", "nope", *data_dir])
    assert refused.exit_code != 0 and "redirect_uri" in refused.output
    unknown = runner.invoke(cli, ["oauth-app", "delete", "nope", *data_dir])
    assert unknown.exit_code != 0 and "No such application" in unknown.output
