"""Prometheus metrics shared by every part of a process (one registry per process)."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "townhall_http_requests_total", "HTTP requests served", ["surface", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "townhall_http_request_duration_seconds",
    "HTTP request latency",
    ["surface"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
WEBSOCKETS_OPEN = Gauge("townhall_websockets_open", "Open WebSocket connections", ["surface"])
EVENTS_PUBLISHED = Counter("townhall_events_published_total", "Domain events published", ["type"])
