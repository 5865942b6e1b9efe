"""Alerts service settings: `PARTNERPULSE_ALERTS_*` plus the shared ones.

What a tenant decides (routing, cooldown, quiet hours, digest, escalation) is
in the tenant file's `alerts:` section; these are the service's own knobs:
where it listens, which SMTP server it uses, how it retries.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr

from services.runtime.settings import CommonSettings


class SmtpSecurity(StrEnum):
    none = "none"  # plain SMTP (a local relay, the test server)
    starttls = "starttls"  # upgrade with STARTTLS (port 587)
    tls = "tls"  # implicit TLS (port 465)


class AlertsSettings(CommonSettings):
    alerts_host: str = Field("127.0.0.1", description="Address the HTTP API binds.")
    alerts_port: int = Field(8483, ge=1, le=65535, description="Port of the API and /metrics.")
    alerts_public_url: str | None = Field(
        None,
        description="Base URL of this service as account leads reach it (for the acknowledge "
        "link in messages); default http://<alerts_host>:<alerts_port>.",
    )
    alerts_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest Grafana notification accepted (413 above)."
    )

    alerts_smtp_host: str = Field("127.0.0.1", description="SMTP server for email.")
    alerts_smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP server.")
    alerts_smtp_security: SmtpSecurity = Field(
        SmtpSecurity.none, description="none, starttls or tls."
    )
    alerts_smtp_username: str | None = Field(None, description="SMTP login, if it needs one.")
    alerts_smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    alerts_smtp_from: str = Field(
        "partnerpulse@localhost", description="The From address of alert email."
    )
    alerts_smtp_timeout: float = Field(
        10.0, gt=0, description="Seconds before an SMTP conversation is given up (retried)."
    )
    alerts_chat_timeout: float = Field(
        10.0, gt=0, description="Seconds before a chat webhook post is given up (retried)."
    )

    alerts_grafana_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="HMAC secrets of Grafana's webhook contact point (a JSON list; several "
        "during a rotation). Empty: signatures are not checked.",
    )
    alerts_grafana_signature_header: str = Field(
        "X-Grafana-Alerting-Signature", description="Header holding Grafana's HMAC signature."
    )
    alerts_grafana_timestamp_header: str | None = Field(
        None,
        description="Header holding the timestamp Grafana signs with the body (the contact "
        "point's 'Timestamp Header'); set it to get replay protection.",
    )
    alerts_grafana_max_skew_seconds: float = Field(
        300, gt=0, description="Oldest (or newest) signed timestamp accepted."
    )

    alerts_group_id: str = Field(
        "partnerpulse-alerts", description="Kafka consumer group of the alerts service."
    )
    alerts_fetch_max_wait_ms: int = Field(
        100, ge=1, description="Longest a fetch waits for data (latency on tansu)."
    )
    alerts_session_timeout_ms: int = Field(
        10_000, ge=1000, description="Consumer group session timeout."
    )
    alerts_settle_seconds: float = Field(
        2.0,
        ge=0,
        description="A notification waits this long before it is sent, so a signal and the "
        "health change it causes go out as one message.",
    )
    alerts_retry_initial_seconds: float = Field(
        1.0, gt=0, description="First retry delay of a failed delivery; doubles each time."
    )
    alerts_retry_max_seconds: float = Field(
        300.0, gt=0, description="Longest delay between retries (deliveries are never dropped)."
    )
    alerts_tick_seconds: float = Field(
        1.0, gt=0, description="How often reminders, escalations and digests are looked at."
    )

    alerts_classifier_url: str | None = Field(
        None,
        description="The classifier's query API, where partnership reviews (PDF) are fetched "
        "for the account leads (tenant `reports:`); default http://<classifier_host>:"
        "<classifier_port>.",
    )
    alerts_classifier_token: SecretStr | None = Field(
        None,
        description="API token (scope read) for the classifier's report API; default: the "
        "local token `partnerpulse up` keeps in <data_dir>/api-token.",
    )
    alerts_report_timeout: float = Field(
        120.0, gt=0, description="Seconds before fetching a review's PDF is given up (retried)."
    )
    classifier_host: str = Field("127.0.0.1", description="The classifier's address.")
    classifier_port: int = Field(8481, ge=1, le=65535, description="The classifier's port.")

    @property
    def classifier_url(self) -> str:
        default = f"http://{self.classifier_host}:{self.classifier_port}"
        return (self.alerts_classifier_url or default).rstrip("/")

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "alerts" / "outbox.sqlite3"

    @property
    def public_url(self) -> str:
        return (self.alerts_public_url or f"http://{self.alerts_host}:{self.alerts_port}").rstrip(
            "/"
        )
