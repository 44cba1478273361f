"""A finished load test's files in the JetStream object store: the result as JSON and its
charts as PNG."""

from __future__ import annotations

import asyncio

import msgspec
from nats.js.object_store import ObjectStore

from genfleet_common.messages import PerfResult
from genfleet_common.objects import Chart, chart_name, perf_result_name
from perf_svc.charts import render_charts


async def store_result(store: ObjectStore, result: PerfResult) -> None:
    """Charts first, then the result that names them: whoever reads the result finds them."""
    s = result.status
    title = f"{s.model}/app{s.app} {s.target.value}"
    pngs = await asyncio.to_thread(render_charts, result.series, title)
    for chart in Chart:
        await store.put(chart_name(s.test_id, chart), pngs[chart])
    result.charts = [chart.value for chart in Chart]
    await store.put(perf_result_name(s.test_id), msgspec.json.encode(result))


async def load_result(store: ObjectStore, test_id: str) -> PerfResult:
    return msgspec.json.decode(
        (await store.get(perf_result_name(test_id))).data or b"", type=PerfResult
    )
