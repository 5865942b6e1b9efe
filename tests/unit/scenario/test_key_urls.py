"""The scenario's signing key for each of its ConnectWise key_urls, vendor hosts included."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from services.events.models import Source
from services.scenario.files import RecordedDelivery
from services.scenario.replay import key_urls, signing_key, vendor_key_urls, write_key_file

VENDOR = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/system/callbacks/key?id=7"
LOOPBACK = "http://127.0.0.1:18999/key/sim-msp"


def delivery(seq: int, source: Source, body: object) -> RecordedDelivery:
    return RecordedDelivery(seq, None, source, {}, json.dumps(body).encode())


DELIVERIES = [
    delivery(1, Source.connectwise, {"Metadata": {"key_url": VENDOR}, "ID": 1}),
    delivery(2, Source.autotask, {"Metadata": {"key_url": "https://elsewhere.example/k"}}),
    delivery(3, Source.connectwise, {"Metadata": {"key_url": LOOPBACK}, "ID": 2}),
    delivery(4, Source.connectwise, {"Metadata": {"key_url": VENDOR}, "ID": 3}),
    delivery(5, Source.connectwise, {"no": "metadata"}),
]


def test_only_connectwise_key_urls_count_and_each_once() -> None:
    assert key_urls(DELIVERIES) == [VENDOR, LOOPBACK]
    assert vendor_key_urls(DELIVERIES) == [VENDOR]  # a replay serves loopback ones itself


def test_the_key_file_answers_every_key_url_with_the_scenarios_key_for_its_owner_only(
    tmp_path: Path,
) -> None:
    path = write_key_file(DELIVERIES, tmp_path / "pipeline" / "connectwise-keys.json")
    key = signing_key(DELIVERIES).decode()
    assert json.loads(path.read_text()) == {VENDOR: key, LOOPBACK: key}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
