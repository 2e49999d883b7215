"""Every sample plugin lays its panel out for the width the console draws it at (the resize
event): from a third of an 80-column terminal up, no line is wider than the panel, so the
console never clips a column."""

from __future__ import annotations

import pytest

from .conftest import columns, make_dead

WIDTHS = (34, 38, 42, 46, 50, 64, 78)


async def fill(h, name: str) -> str:
    """Give plugin `name` everything it can show; returns a text its fullest panel holds."""
    h.queue.enqueue_many("email-transactional-eu", [{"tenant": "acme-corporation-international"}] * 3)
    h.queue.enqueue_many("sms", [{"tenant": "globex"}] * 2000)
    if name == "bulk-requeue":
        make_dead(h, "billing-invoices-eu", [{"tenant": "initech-europe-holding"}] * 3, "connection reset " * 10)
        await h.start(name)
        h.host.run_command(name, "filter", "queue=billing-invoices-eu")
        return "ERROR"
    settings = {"ready_threshold": 10, "age_threshold_seconds": 1} if name == "queue-alert" else None
    await h.start(name, settings=settings)
    h.clock.advance(30)
    await h.publish_stats()
    return {"tenant-sla": "TENANT", "queue-alert": "recent", "throughput": "peak"}[name]


@pytest.mark.parametrize("name", ["tenant-sla", "queue-alert", "throughput", "bulk-requeue"])
async def test_no_line_is_wider_than_the_panel(harness, name: str) -> None:
    h = harness
    needle = await fill(h, name)
    await h.wait_text(name, needle)
    for width in WIDTHS:
        drawn = h.host.plugins[name].panel
        h.host.resize(name, width, 20)  # the plugin draws again for the new width
        await h.wait(lambda: h.host.plugins[name].panel is not drawn)
        lines = h.text(name)
        assert all(columns(line) <= width for line in lines), (width, lines)
        assert h.host.plugins[name].errors == 0, h.host.plugins[name].where()
    # the widest layout uses the room it gets
    assert max(columns(line) for line in h.text(name)) > 64
