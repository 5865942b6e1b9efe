"""deploy/compose.yaml parses and everything it points at exists (no Docker engine here).

Also what Docker would only show at run time: Prometheus scrapes services that exist
on the ports they listen on, those services bind beyond loopback, Grafana finds its
datasource, dashboards and contact point where the provisioning says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.classifier.settings import ClassifierSettings
from services.ingest.settings import IngestSettings
from services.poll.settings import PollSettings

from . import catalog

DEPLOY = catalog.REPO / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PIPELINE = ("ingest", "relay", "classifier", "alerts", "poll")
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def bind_mounts() -> list[tuple[str, Path, str]]:
    """(service, host path, container path) of every bind mount, as Compose resolves the
    host path: defaults of ${VAR:-default} filled in, relative to deploy/."""
    mounts = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            volume = _DEFAULT.sub(lambda m: m[2], volume)
            assert "$" not in volume, f"{name}: {volume}: a bind mount needs a default"
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                mounts.append((name, (DEPLOY / source).resolve(), target))
    return mounts


def test_the_stack_has_every_part() -> None:
    assert set(SERVICES) >= {"kafka", "prometheus", "grafana", *PIPELINE}
    assert not any("zookeeper" in str(s.get("image", "")) for s in SERVICES.values())
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft


def test_the_services_run_from_one_image_built_by_the_dockerfile() -> None:
    images = {SERVICES[name]["image"] for name in (*PIPELINE, "topics")}
    assert len(images) == 1
    for name in (*PIPELINE, "topics"):
        build = SERVICES[name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        copied = re.findall(r"^COPY\s+(.+)\s+\S+$", dockerfile.read_text(), flags=re.MULTILINE)
        for sources in copied:
            for source in sources.split():
                assert (context / source).exists(), f"{dockerfile}: COPY {source}"
        assert SERVICES[name]["command"][0] == name or name == "topics"


def test_every_mounted_file_and_folder_exists() -> None:
    mounts = bind_mounts()
    assert mounts
    for service, path, _ in mounts:
        assert path.exists(), f"{service}: {path} does not exist"
    named = {
        volume.split(":")[0]
        for service in SERVICES.values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/", "$"))
    }
    assert named <= set(COMPOSE["volumes"]), named - set(COMPOSE["volumes"])


def test_state_lives_in_a_volume_per_service_and_ingest_shares_its_journal_with_relay() -> None:
    def state(name: str) -> str:
        (volume,) = [
            v.split(":")[0]
            for v in SERVICES[name]["volumes"]
            if v.endswith(":/var/lib/partnerpulse")
        ]
        return volume

    assert state("ingest") == state("relay")
    assert len({state("ingest"), state("classifier"), state("alerts")}) == 3


def test_prometheus_scrapes_the_services_where_they_listen() -> None:
    listening = {
        "ingest": IngestSettings.model_fields["ingest_port"].default,
        "relay": IngestSettings.model_fields["relay_port"].default,
        "classifier": ClassifierSettings.model_fields["classifier_port"].default,
        "alerts": 8483,  # the alerts service's default port (issue 5)
        "poll": PollSettings.model_fields["poll_port"].default,
    }
    config = yaml.safe_load((catalog.PROMETHEUS / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {f"{name}:{port}" for name, port in listening.items()}
    for name in PIPELINE:
        environment = SERVICES[name]["environment"]
        assert environment[f"PARTNERPULSE_{name.upper()}_HOST"] == "0.0.0.0", name
        assert f"PARTNERPULSE_{name.upper()}_PORT" not in environment, "the default is scraped"
    mounted = {(service, target) for service, _, target in bind_mounts()}
    assert ("prometheus", "/etc/prometheus") in mounted
    assert "--config.file=/etc/prometheus/prometheus.yml" in SERVICES["prometheus"]["command"]


def test_grafana_finds_its_provisioning_dashboards_and_datasource() -> None:
    mounts = {target: path for service, path, target in bind_mounts() if service == "grafana"}
    assert mounts["/etc/grafana/provisioning"] == (DEPLOY / "grafana" / "provisioning")
    provider = yaml.safe_load((catalog.GRAFANA / "dashboards" / "partnerpulse.yaml").read_text())
    assert mounts[provider["providers"][0]["options"]["path"]] == catalog.DASHBOARDS
    datasource = yaml.safe_load((catalog.GRAFANA / "datasources" / "prometheus.yaml").read_text())
    url = datasource["datasources"][0]["url"]
    assert url == "http://prometheus:9090"
    contact = yaml.safe_load((catalog.GRAFANA / "alerting" / "contact-points.yaml").read_text())
    settings = contact["contactPoints"][0]["receivers"][0]["settings"]
    variable = settings["hmacConfig"]["secret"].strip("${}")
    assert variable in SERVICES["grafana"]["environment"]
    assert variable in SERVICES["alerts"]["environment"]["PARTNERPULSE_ALERTS_GRAFANA_SECRETS"]
    assert (
        SERVICES["alerts"]["environment"]["PARTNERPULSE_ALERTS_GRAFANA_TIMESTAMP_HEADER"]
        == settings["hmacConfig"]["timestampHeader"]
    )
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    relative = Path(home).relative_to(provider["providers"][0]["options"]["path"])
    assert (catalog.DASHBOARDS / relative).is_file()


def test_the_env_example_names_every_variable_compose_requires() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = (DEPLOY / ".env.example").read_text()
    defined = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert required <= defined, required - defined


def published(name: str) -> list[tuple[str, str]]:
    """(host address, host port) of each port a service publishes; "" is every interface."""
    out = []
    for port in SERVICES[name].get("ports", []):
        parts = str(port).split(":")
        out.append((parts[0], parts[1]) if len(parts) == 3 else ("", parts[0]))
    return out


def test_only_ingest_and_grafana_are_published_beyond_the_host() -> None:
    everywhere = {
        name for name in SERVICES for address, _ in published(name) if address != "127.0.0.1"
    }
    assert everywhere == {"ingest", "grafana"}
    assert published("ingest") == [("", "8480")]
    assert published("relay") == [] and published("kafka") == []
    for name in ("classifier", "alerts", "prometheus"):  # for the host's operator only
        assert all(address == "127.0.0.1" for address, _ in published(name)), name
    assert "--web.enable-lifecycle" not in SERVICES["prometheus"]["command"]


def test_the_services_need_api_tokens_and_never_take_the_example_tenant() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert (
        "ALLOW_EXAMPLE_TENANT" not in text
        and "ALLOW_EXAMPLE_TENANT" not in (DEPLOY / ".env.example").read_text()
    )
    for name in PIPELINE:
        tokens = SERVICES[name]["environment"]["PARTNERPULSE_API_TOKENS"]
        assert tokens.startswith("${PARTNERPULSE_API_TOKENS:?"), name  # required, no default
    example = yaml.safe_load((DEPLOY / "tenant.example.yaml").read_text())
    hosts = example["webhooks"]["connectwise"]["key_url_hosts"]
    assert not any("127.0.0.1" in h or "localhost" in h for h in hosts), "dev copy only"
    env = dict(re.findall(r"^(\w+)=(.*)$", (DEPLOY / ".env.example").read_text(), re.M))
    assert env["PARTNERPULSE_TENANT"] != "./tenant.example.yaml"
