"""Notify delivery on a gateway's real retry schedule, shared by the newer sandboxes.

``attempt()`` sends one notify and says whether the merchant acknowledged it;
it is called at each offset of the schedule (minutes after payment, scaled by
``time_scale`` so tests run a day's schedule in a blink) until it does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


class Retrier:
    def __init__(self, offsets_minutes: Sequence[float], time_scale: float) -> None:
        self.offsets = tuple(offsets_minutes)
        self.time_scale = time_scale
        self.tasks: set[asyncio.Task[None]] = set()

    def start(
        self,
        name: str,
        attempt: Callable[[], Awaitable[bool]],
        give_up: Callable[[], None],
        *,
        skip: int = 0,
    ) -> None:
        """``skip`` attempts already made (a restarted sandbox resumes the schedule)."""
        task = asyncio.create_task(self._run(attempt, give_up, skip), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def later(self, name: str, minutes: float, action: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await asyncio.sleep(minutes * 60 * self.time_scale)
            await action()

        task = asyncio.create_task(run(), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(
        self, attempt: Callable[[], Awaitable[bool]], give_up: Callable[[], None], skip: int
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        base = self.offsets[skip] if skip < len(self.offsets) else 0.0
        for offset in self.offsets[skip:]:
            delay = started + (offset - base) * 60 * self.time_scale - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if await attempt():
                return
        give_up()

    async def aclose(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
