# burst idle watchdog, loaded into the Dask scheduler with --preload.
#
# Closes the scheduler once it has had no tasks and no clients for
# BURST_IDLE_TIMEOUT seconds. Closing the scheduler closes its workers; the
# head's watchdog then sees the scheduler exit and removes the machine, and
# each worker's watchdog does the same. Dask's own --idle-timeout ignores
# connected clients (in the Dask versions Debian and images ship), which
# would stop a cluster under a user's open notebook, hence this plugin.
import asyncio
import logging
import os
import time

logger = logging.getLogger("burst.idle")


def _busy(scheduler):
    if any(ws.processing for ws in scheduler.workers.values()):
        return True
    if getattr(scheduler, "unrunnable", None) or getattr(scheduler, "queued", None):
        return True
    return any(c != "fire-and-forget" for c in scheduler.clients)


async def _watch(scheduler, timeout):
    last = time.monotonic()
    tick = max(0.2, min(5.0, timeout / 4))
    while scheduler.status.name not in ("closing", "closed", "failed"):
        if _busy(scheduler):
            last = time.monotonic()
        elif time.monotonic() - last >= timeout:
            logger.warning("burst: no tasks and no clients for %ss; closing the scheduler", timeout)
            await scheduler.close()
            return
        await asyncio.sleep(tick)


async def dask_setup(scheduler):
    timeout = float(os.environ.get("BURST_IDLE_TIMEOUT", "0") or 0)
    if timeout > 0:
        scheduler._burst_idle_task = asyncio.ensure_future(_watch(scheduler, timeout))
