"""pytest plugin loaded (``-p townhall_harness``) when Stream's own SDK suite runs against townhall.

It changes how results are reported, never what a test asserts:

* every test runs on its own: Stream's suite marks classes ``@pytest.mark.incremental`` so that,
  after the first failure in a class, every later test is reported xfail without running. Against
  a server without moderation the first test of ``TestChannel`` (a ban) fails and would hide the 30
  channel tests behind it;
* the async conftest's no-op ``cleanup_test_data`` fixture is skipped: it is an autouse
  *session*-scoped async fixture over a *module*-scoped ``event_loop``, which pytest-asyncio 0.21
  rejects with ScopeMismatch on every async test (its body is only ``yield``);
* every SDK request a test makes is recorded (method, path, query, body, status, response) and
  the log is attached to the test's report when it fails, so a failure names the request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

_LOG: list[str] = []
_MAX = 2000


def _fmt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _MAX else text[:_MAX] + "...(cut)"


def _record(method: str, url: str, params: Any, data: Any, status: Any, body: Any) -> None:
    query = {k: v for k, v in (params or {}).items() if k != "api_key"}
    _LOG.append(
        f"{method.upper()} /{url.lstrip('/')} query={_fmt(query)} body={_fmt(data or {})}\n"
        f"    -> {status} {_fmt(body)}"
    )


def _patch_sdk() -> None:
    from stream_chat.async_chat.client import StreamChatAsync
    from stream_chat.base.exceptions import StreamAPIException
    from stream_chat.client import StreamChat

    sync_make = StreamChat._make_request

    def sync_make_request(self, method, relative_url, params=None, data=None):  # type: ignore[no-untyped-def]
        try:
            resp = sync_make(self, method, relative_url, params, data)
        except StreamAPIException as exc:
            _record(method.__name__, relative_url, params, data, exc.status_code, str(exc))
            raise
        except Exception as exc:
            _record(method.__name__, relative_url, params, data, "EXC", repr(exc))
            raise
        _record(method.__name__, relative_url, params, data, resp.status_code(), dict(resp))
        return resp

    async_make = StreamChatAsync._make_request

    async def async_make_request(self, method, relative_url, params=None, data=None):  # type: ignore[no-untyped-def]
        try:
            resp = await async_make(self, method, relative_url, params, data)
        except StreamAPIException as exc:
            _record(method.__name__, relative_url, params, data, exc.status_code, str(exc))
            raise
        except Exception as exc:
            _record(method.__name__, relative_url, params, data, "EXC", repr(exc))
            raise
        _record(method.__name__, relative_url, params, data, resp.status_code(), dict(resp))
        return resp

    StreamChat._make_request = sync_make_request  # type: ignore[method-assign]
    StreamChatAsync._make_request = async_make_request  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _patch_sdk()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", None)
        if "async_chat" in item.nodeid and names and "cleanup_test_data" in names:
            names.remove("cleanup_test_data")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.parent is not None and hasattr(item.parent, "_previousfailed"):
        item.parent._previousfailed = None
    _LOG.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed and _LOG:
        report.sections.append((f"townhall requests ({report.when})", "\n".join(_LOG)))
