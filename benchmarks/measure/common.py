"""Small helpers every measurement shares: waiting, percentiles, memory, processes."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import statistics
import time
from typing import Any


async def until(condition: Any, timeout: float, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met in time")
        await asyncio.sleep(step)


def percentiles(values: list[float]) -> dict[str, float]:
    """n, p50, p99 and max of ``values`` (seconds), in milliseconds."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered) * 1000, 1),
        "p99": at(0.99),
        "max": round(ordered[-1] * 1000, 1),
    }


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(target: Any, *args: Any) -> Any:
    """Run ``target(*args, results)`` in a new interpreter and return what it put:
    RSS must not include what earlier measurements left in this process's heap."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, results))
    process.start()
    try:
        return results.get(timeout=1800)
    finally:
        process.join(60)
        if process.is_alive():
            process.terminate()
            process.join(10)


def median_pair(runs: list[tuple[float, Any, Any]]) -> tuple[float, Any, Any]:
    """The run whose ratio is the median (runs are (ratio, reference, measured))."""
    ordered = sorted(runs, key=lambda r: r[0])
    return ordered[len(ordered) // 2]
