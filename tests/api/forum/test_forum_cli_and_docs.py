"""The forum's commands (forum-keys, worker, keys --json) and its OpenAPI documentation."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from click.testing import CliRunner

from tests.conftest import RunTownhall
from townhall.app import create_app
from townhall.cli import cli
from townhall.config import ForumSettings, Settings
from townhall.container import Container
from townhall.core.forum import keys


def test_every_forum_command_has_help() -> None:
    for path in (("forum-keys",), ("forum-keys", "create"), ("forum-keys", "list"), ("forum-keys", "revoke"),
                 ("worker",)):
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0 and "--help" in result.output, path
    assert "forum-keys" in CliRunner().invoke(cli, ["--help"]).output


def test_keys_are_created_listed_and_revoked(run_townhall: RunTownhall, tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path)]
    first = json.loads(run_townhall("keys", "--json", *data_dir).stdout)["forum"]["api_key"]
    assert json.loads(run_townhall("keys", "--json", *data_dir).stdout)["forum"]["api_key"] == first
    assert (tmp_path / "forum_key.json").stat().st_mode & 0o077 == 0
    made = json.loads(run_townhall("forum-keys", "create", "--name", "backend", "--role", "3", "--json",
                                   *data_dir).stdout)
    assert made["api_key"].startswith("thf_") and made["role_id"] == 3
    listed = json.loads(run_townhall("forum-keys", "list", "--json", *data_dir).stdout)
    assert [k["name"] for k in listed] == ["default", "backend"]
    assert all("api_key" not in k for k in listed)  # only hashes are stored
    assert first not in (tmp_path / "townhall.db").read_bytes().decode(errors="replace")
    run_townhall("forum-keys", "revoke", str(made["key_id"]), *data_dir)
    assert [k["name"] for k in json.loads(run_townhall("forum-keys", "list", "--json", *data_dir).stdout)] == [
        "default"]
    # A revoked first key is replaced on the next `townhall keys`.
    run_townhall("forum-keys", "revoke", str(listed[0]["key_id"]), *data_dir)
    assert json.loads(run_townhall("keys", "--json", *data_dir).stdout)["forum"]["api_key"] != first


async def test_the_forum_api_is_documented_at_forum_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/forum/docs")).status_code == 200
    spec = (await client.get("/forum/openapi.json")).json()
    assert {"/api/v1/boards", "/api/v1/posts/{post_id}", "/api/v1/users/{msid}", "/api/v1/tags/mapping",
            "/api/v1/webhooks"} <= set(spec["paths"])


async def test_a_key_pinned_in_settings_is_accepted_once_the_forum_starts(settings: Settings,
                                                                          migrated_db_url: str) -> None:
    pinned = "thf_pinned-" + uuid.uuid4().hex
    own = settings.model_copy(update={"forum": ForumSettings(api_key=pinned, worker_in_process=False)})
    container = Container.build(own)
    await container.start()
    try:
        app = create_app(own, container)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://t/forum/api/v1", auth=("ops", pinned)) as http:
                assert (await http.get("/users/me")).json()["role_id"] == 2
        async with app.router.lifespan_context(app):  # started again: the same key, not a second one
            pass
        async with container.read() as conn:
            assert [k.name for k in await keys.list_keys(conn)].count("configured") >= 1
            assert await keys.is_valid_key(conn, pinned)
    finally:
        await container.close()
