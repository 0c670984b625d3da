#!/usr/bin/env bash
# Run Stream's own stream-chat-python test suite against a running townhall.
#
#   run_suite.sh SUITE_DIR CHAT_URL KEYS_JSON [pytest args...]
#
# SUITE_DIR  a directory laid out like the stream-chat-python repository: stream_chat/ (the 4.33.0
#            sources from the PyPI sdist) with stream_chat/tests/ (Stream's tests) and a pytest.ini
#            (asyncio_mode = auto). It is NOT in this repository: see README.md for why and how.
# CHAT_URL   townhall's chat base URL, e.g. http://127.0.0.1:8770/chat
# KEYS_JSON  the data dir's keys.json ({"chat": {"api_key", "api_secret"}})
#
# Needs a venv with the suite's own pins (VENV, default /tmp/sdkvenv):
#   python -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install stream-chat==4.33.0 \
#       pytest==8.1.1 pytest-asyncio==0.21.1 pytest-timeout
# STREAM_HOST (read by Stream's conftest) and STREAM_CHAT_URL (read by the SDK itself, for the tests
# that build their own client) both point at townhall. Sync tests talk to CHAT_URL directly. Async tests go through prefix_proxy.py (PROXY_PORT, default
# 8771), because StreamChatAsync cannot use a base URL with a path (see prefix_proxy.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite="$1"; chat_url="$2"; keys="$3"; shift 3
venv="${VENV:-/tmp/sdkvenv}"
proxy_port="${PROXY_PORT:-8771}"
export STREAM_KEY STREAM_SECRET
STREAM_KEY="$("$venv/bin/python" -c 'import json,sys;print(json.load(open(sys.argv[1]))["chat"]["api_key"])' "$keys")"
STREAM_SECRET="$("$venv/bin/python" -c 'import json,sys;print(json.load(open(sys.argv[1]))["chat"]["api_secret"])' "$keys")"

"$venv/bin/python" "$here/prefix_proxy.py" "$proxy_port" "$chat_url" &
proxy_pid=$!
trap 'kill "$proxy_pid" 2>/dev/null || true' EXIT
sleep 1

cd "$suite"
common=(-p townhall_harness -p no:cacheprovider --timeout "${TEST_TIMEOUT:-30}" -rA)
status=0
STREAM_HOST="$chat_url" STREAM_CHAT_URL="$chat_url" PYTHONPATH="$here" "$venv/bin/python" -m pytest "${common[@]}" \
    --ignore=stream_chat/tests/async_chat "$@" stream_chat/tests || status=$?
STREAM_HOST="http://127.0.0.1:$proxy_port" STREAM_CHAT_URL="http://127.0.0.1:$proxy_port" PYTHONPATH="$here" "$venv/bin/python" -m pytest \
    "${common[@]}" "$@" stream_chat/tests/async_chat || status=$?
exit "$status"
