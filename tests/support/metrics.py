"""Reading a service's /metrics the way Prometheus does."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from services.platform import local_http


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of sample `name` whose labels are exactly `labels`, or None.
    `name` may carry its labels the way Prometheus writes them: `x_total{topic="t"}`."""
    if "{" in name:
        name, written = name.split("{", 1)
        labels = {**dict(re.findall(r'(\w+)="([^"]*)"', written)), **labels}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def scrape(url: str, name: str, headers: dict[str, str] | None = None, **labels: str) -> float:
    """Sample `name{labels}` of `url`/metrics; AssertionError if it is not exported."""
    text = local_http.get(f"{url}/metrics", headers=headers, timeout=10).text
    value = sample(text, name, **labels)
    if value is None:
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        raise AssertionError(f"{name}{{{want}}} not exported by {url}")
    return value
