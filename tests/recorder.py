"""``Recorder``: the events units of work publish on a container's bus while it is entered."""

from __future__ import annotations

from typing import Any

from townhall.container import Container


class Recorder:
    def __init__(self, container: Container) -> None:
        self.container = container
        self.events: list[Any] = []

    async def __aenter__(self) -> Recorder:
        self._publish = self.container.bus.publish

        async def publish(event: Any) -> None:
            self.events.append(event)
            await self._publish(event)

        self.container.bus.publish = publish  # type: ignore[method-assign]
        return self

    async def __aexit__(self, *_: Any) -> None:
        self.container.bus.publish = self._publish  # type: ignore[method-assign]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]
