"""One function per role: `async def run(runtime, stop) -> None`, returning after a drain."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from worker.bootstrap import Runtime

RoleFn = Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]
