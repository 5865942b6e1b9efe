"""A client with no events is a client too: green, with `no_activity` (issue 12, cause 7)."""

from __future__ import annotations

from services.classifier.domain.engine import Engine
from services.classifier.domain.health import NO_ACTIVITY, quiet_client_view

from .conftest import Feed
from .factory import at, ticket, time_entry


def test_a_client_with_no_events_is_green_with_no_activity(engine: Engine) -> None:
    view = quiet_client_view(engine, "vandelay", "northwind-msp", at(90).timestamp(), 0)
    assert (view.client_id, view.name, view.score, view.band) == (
        "vandelay",
        "Vandelay Industries",
        100.0,
        "green",
    )
    assert view.components == {
        NO_ACTIVITY: 0.0,
        "rhem": 0.0,
        "tickets_per_endpoint": 0.0,
        "proactive_share": 0.0,
    }
    window = view.windows["90d"]
    assert (window.tickets, window.rhem, window.proactive_share) == (0, 0.0, None)
    assert view.open_signals == [] and view.snapshot.endpoints == 25


def test_a_client_with_work_in_the_window_has_no_no_activity(feed: Feed) -> None:
    feed(ticket("1", at(0)), time_entry("t1", at(0, 1), 1.0, ticket_id="1"))
    j = feed.engine.judge(feed.state, "t", feed.watermark, 0)
    assert NO_ACTIVITY not in j.view.components
    # ... and once its work is older than the judged window, it is quiet again.
    later = feed.engine.judge(feed.state, "t", at(120).timestamp(), 0)
    assert later.view.band == "green" and NO_ACTIVITY in later.view.components
