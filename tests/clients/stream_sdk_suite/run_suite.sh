#!/usr/bin/env bash
# Run Stream's own stream-chat-python test suite against a running townhall.
#
#   run_suite.sh SUITE_DIR CHAT_URL KEYS_JSON [pytest args...]
#
# SUITE_DIR  a directory laid out like the stream-chat-python repository: stream_chat/ (the 4.33.0
#            sources from the PyPI sdist) with stream_chat/tests/ (Stream's tests) and a pytest.ini
#            (asyncio_mode = auto). It is NOT in this repository: see README.md for why and how.
# CHAT_URL   townhall's chat base URL for the sync half, e.g. http://127.0.0.1:8770/chat
# KEYS_JSON  the data dir's keys.json ({"chat": {"api_key", "api_secret"}})
#
# ASYNC_URL  (env) base URL for the async half; default: the root of CHAT_URL's host, e.g.
#            http://127.0.0.1:8770/ . townhall serves the chat API at the host root as well as at
#            /chat, and StreamChatAsync needs the root: aiohttp refuses a base URL without a
#            trailing '/', and with ".../chat/" the SDK's absolute request paths drop the prefix.
#
# Needs a venv with the suite's own pins (VENV, default /tmp/sdkvenv):
#   python -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install stream-chat==4.33.0 \
#       pytest==8.1.1 pytest-asyncio==0.21.1 pytest-timeout
# STREAM_HOST (read by Stream's conftest) and STREAM_CHAT_URL (read by the SDK itself, for the tests
# that build their own client) both point at townhall.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite="$1"; chat_url="$2"; keys="$3"; shift 3
venv="${VENV:-/tmp/sdkvenv}"
async_url="${ASYNC_URL:-$("$venv/bin/python" -c 'import sys,urllib.parse as u;p=u.urlsplit(sys.argv[1]);print(f"{p.scheme}://{p.netloc}/")' "$chat_url")}"
export STREAM_KEY STREAM_SECRET
STREAM_KEY="$("$venv/bin/python" -c 'import json,sys;print(json.load(open(sys.argv[1]))["chat"]["api_key"])' "$keys")"
STREAM_SECRET="$("$venv/bin/python" -c 'import json,sys;print(json.load(open(sys.argv[1]))["chat"]["api_secret"])' "$keys")"

cd "$suite"
common=(-p townhall_harness -p no:cacheprovider --timeout "${TEST_TIMEOUT:-30}" -rA)
status=0
STREAM_HOST="$chat_url" STREAM_CHAT_URL="$chat_url" PYTHONPATH="$here" "$venv/bin/python" -m pytest "${common[@]}" \
    --ignore=stream_chat/tests/async_chat "$@" stream_chat/tests || status=$?
if [ -n "${HALF_PAUSE:-}" ]; then sleep "$HALF_PAUSE"; fi  # e.g. 60: let per-minute limits refill
STREAM_HOST="$async_url" STREAM_CHAT_URL="$async_url" PYTHONPATH="$here" "$venv/bin/python" -m pytest \
    "${common[@]}" "$@" stream_chat/tests/async_chat || status=$?
exit "$status"
