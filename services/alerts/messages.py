"""What an account lead reads (pure): which client, what pattern, the evidence, what to do.

A message is rendered once, when its notice is first taken for sending, from
the alert as it stands then (so a notice delayed by a cooldown or quiet hours
carries the latest evidence), and stored with the notice: a retry sends the
very same text, Message-ID and date. Wire formats (email, Slack, Teams) are
built from that stored message.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.alerts.grafana import GrafanaAlert
from services.alerts.model import RED_BAND, Alert, AlertKind, Purpose, Recipient, Role
from services.events.outputs import HealthSnapshot, Signal, SignalStatus
from services.events.wording import WORDS

# The account lead's words for each behaviour live with every other wording of it.
PATTERN = {
    **{b.value: w.pattern for b, w in WORDS.items()},
    RED_BAND: "partnership health in the red",
}

ACTION = {
    **{b.value: w.action for b, w in WORDS.items()},
    RED_BAND: (
        "The relationship is at risk. Book a call with the client's decision maker this week, "
        "go through each pattern below with its evidence, and agree one change per pattern."
    ),
}

SOURCES = {
    "connectwise": "ConnectWise",
    "autotask": "Autotask",
    "halopsa": "HaloPSA",
    "ninjaone": "NinjaOne",
    "dattormm": "Datto RMM",
    "tacticalrmm": "Tactical RMM",
    "canonical": "partnerpulse",
}

ENTITIES = {
    "ticket": "ticket",
    "time": "time entry",
    "schedule": "schedule entry",
    "activity": "meeting",
    "alert": "RMM alert",
    "device": "device",
    "recommendation": "recommendation",
}


@dataclass(frozen=True)
class Message:
    """A rendered notice, stored with it so that a retry repeats it exactly."""

    subject: str
    text: str
    reference: str  # the thread key shown in every message about one alert
    message_id: str
    in_reply_to: str | None
    date: float
    # A file sent with it (email only): {"filename", "content_type", "data" (base64)}.
    attachment: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(**data)


def describe_ref(ref: str) -> str:
    """`connectwise:ticket:4711` -> `ConnectWise ticket #4711`."""
    parts = ref.split(":", 2)
    if len(parts) != 3:
        return ref
    source, entity, ident = parts
    return f"{SOURCES.get(source, source)} {ENTITIES.get(entity, entity)} #{ident}"


def _when(moment: datetime | str | None, zone: ZoneInfo) -> str:
    """A moment for the reader: a datetime, or Grafana's RFC 3339 text."""
    if not moment:
        return "?"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


def _day(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "?"
    return moment.astimezone(zone).strftime("%d %b %Y")


def client_label(alert: Alert) -> str:
    return alert.client_name or alert.client_id or "pipeline"


def title(alert: Alert) -> str:
    if isinstance(alert.record, GrafanaAlert):
        summary = alert.record.annotations.get("summary")
        where = f"{alert.client_name}: " if alert.client_name else ""
        return f"{where}{summary or alert.risk}"
    return f"{client_label(alert)}: {PATTERN.get(alert.risk, alert.risk)}"


def _evidence(signal: Signal, zone: ZoneInfo, indent: str = "  ") -> list[str]:
    lines = [
        f"{indent}- {_when(item.at, zone)}: {describe_ref(item.ref)}: {item.note}"
        for item in signal.evidence
    ]
    shown, total = len(signal.evidence), signal.evidence_count
    if total > shown:
        lines.append(f"{indent}  ({total - shown} earlier occurrence(s) not listed)")
    return lines


def _signal_body(alert: Alert, s: Signal, zone: ZoneInfo) -> list[str]:
    return [
        f"What we saw: {s.explanation}",
        f"Severity: {alert.severity.value}. {s.evidence_count} occurrence(s), "
        f"first {_day(s.first_seen_at, zone)}, latest {_day(s.last_seen_at, zone)}.",
        "",
        "Evidence (newest last):",
        *_evidence(s, zone),
        "",
        f"What to do: {ACTION.get(alert.risk, 'Review the evidence with the client.')}",
    ]


def _band_body(
    alert: Alert, health: HealthSnapshot, signals: Sequence[Alert], zone: ZoneInfo
) -> list[str]:
    lines = [
        f"{client_label(alert)}'s partnership health is red: {health.score} of 100"
        + (
            f" (its own baseline is {health.baseline_score}, a change of {health.change:+})."
            if health.baseline_score is not None and health.change is not None
            else "."
        ),
    ]
    taken = {k: v for k, v in health.components.items() if v}
    if taken:
        parts = [f"{PATTERN.get(k, k.replace('_', ' '))} {v:g}" for k, v in taken.items()]
        lines.append("Points taken off: " + ", ".join(parts) + ".")
    lines += ["", f"What to do: {ACTION[RED_BAND]}"]
    for signal in signals:
        s = signal.record
        if not isinstance(s, Signal):
            continue  # the related alerts are the client's open signals
        lines += [
            "",
            f"* {PATTERN.get(signal.risk, signal.risk).capitalize()} "
            f"({signal.severity.value}, {s.evidence_count} occurrence(s)): {s.explanation}",
            *_evidence(s, zone, indent="    "),
            f"    What to do: {ACTION.get(signal.risk, '')}",
        ]
    if not signals:
        lines += ["", "No behaviour pattern is open: the score fell on the KPIs above."]
    return lines


def _grafana_body(alert: Alert, grafana: GrafanaAlert, zone: ZoneInfo) -> list[str]:
    notes, labels = grafana.annotations, grafana.labels
    lines = [
        f"Grafana alert {alert.risk} is firing since {_when(grafana.starts_at, zone)}.",
    ]
    if notes.get("description"):
        lines.append(notes["description"])
    if labels:
        lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if notes.get("runbook_url"):
        lines.append(f"What to do: follow the runbook at {notes['runbook_url']}")
    else:
        lines.append("What to do: open the alert in Grafana and check the panel it names.")
    if grafana.generator_url:
        lines.append(f"In Grafana: {grafana.generator_url}")
    return lines


def _cleared(alert: Alert, zone: ZoneInfo) -> list[str]:
    r = alert.record
    if isinstance(r, HealthSnapshot):
        return [
            f"Cleared: {client_label(alert)}'s health is back to {r.band.value} "
            f"({r.score} of 100) as of {_day(r.as_of, zone)}."
        ]
    if isinstance(r, GrafanaAlert):
        return [f"Cleared: Grafana reports {alert.risk} resolved."]
    if r.status is SignalStatus.withdrawn:
        return ["Withdrawn: later events showed the evidence did not hold. Nothing to do."]
    return [
        f"Cleared: no new occurrence since {_day(r.last_seen_at, zone)}; "
        "the pattern is considered over. Nothing more to do."
    ]


def body(
    purpose: Purpose,
    alert: Alert,
    related: Sequence[Alert],
    recipient: Recipient,
    zone: ZoneInfo,
    lead_name: str | None = None,
) -> list[str]:
    """The text of one notice about one alert."""
    if purpose is Purpose.resolved:
        return _cleared(alert, zone)
    core = _core(alert, related, zone)
    if purpose is Purpose.updated:
        return ["Update: new evidence.", "", *core]
    if purpose is Purpose.reminder:
        return [f"Reminder: not acknowledged since {_when_ts(alert.opened_at, zone)}.", "", *core]
    if purpose is Purpose.escalation and recipient.role is Role.escalation:
        if alert.kind is AlertKind.band:
            why = f"{client_label(alert)} turned red"
        else:
            why = f"nobody acknowledged it since {_when_ts(alert.notified_at, zone)}"
        lead = f" (account lead: {lead_name})" if lead_name else ""
        return [f"Escalated to you because {why}{lead}.", "", *core]
    return core


def _core(alert: Alert, related: Sequence[Alert], zone: ZoneInfo) -> list[str]:
    """What an alert says, by what it is: a behaviour, a red band, a Grafana alert."""
    if isinstance(alert.record, HealthSnapshot):
        return _band_body(alert, alert.record, related, zone)
    if isinstance(alert.record, GrafanaAlert):
        return _grafana_body(alert, alert.record, zone)
    return _signal_body(alert, alert.record, zone)


def _when_ts(ts: float | None, zone: ZoneInfo) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, zone).strftime("%a %d %b %Y %H:%M %Z")


def subject(purpose: Purpose, alert: Alert, reply: bool) -> str:
    base = f"[partnerpulse] {title(alert)}"
    if isinstance(alert.record, HealthSnapshot):
        base = f"[partnerpulse] {client_label(alert)} turned red: health {alert.record.score}"
    suffix = {
        Purpose.resolved: " - cleared",
        Purpose.reminder: " - reminder",
        Purpose.escalation: " - escalated",
    }.get(purpose, "")
    return ("Re: " if reply else "") + base + suffix


def footer(alert: Alert, ack_url: str) -> list[str]:
    lines = [""]
    if alert.active:
        lines.append(f"Acknowledge (stops reminders and escalation): POST {ack_url}")
    lines.append(f"Reference: {reference(alert.id)}")
    return lines


def reference(alert_id: str) -> str:
    return f"PP-{alert_id.removeprefix('al-')}"


def digest_body(items: Sequence[tuple[Purpose, Alert]], zone: ZoneInfo, ack_base: str) -> list[str]:
    lines = [f"{len(items)} client risk(s) since the last digest.", ""]
    for purpose, alert in items:
        state = {"opened": "NEW", "updated": "UPDATED", "resolved": "CLEARED"}.get(
            purpose.value, purpose.value.upper()
        )
        lines.append(f"== {state}: {title(alert)} ({reference(alert.id)})")
        if purpose is Purpose.resolved:
            lines += _cleared(alert, zone)
        else:
            lines += _core(alert, (), zone)  # each kind as its own notice says it
            if alert.active:
                lines.append(f"Acknowledge: POST {ack_base}/v1/alerts/{alert.id}/ack")
        lines.append("")
    return lines


# -- wire formats ---------------------------------------------------------------------


def email(message: Message, sender: str, to: str, name: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = f"{name} <{to}>"
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(datetime.fromtimestamp(message.date).astimezone())
    mail["Message-ID"] = message.message_id
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
        mail["References"] = message.in_reply_to
    mail["X-Partnerpulse-Reference"] = message.reference
    mail.set_content(message.text)
    if message.attachment:
        maintype, _, subtype = message.attachment["content_type"].partition("/")
        mail.add_attachment(
            base64.b64decode(message.attachment["data"]),
            maintype=maintype,
            subtype=subtype,
            filename=message.attachment["filename"],
        )
    return mail


def slack(message: Message) -> dict[str, Any]:
    """A Slack incoming-webhook body. Incoming webhooks cannot reply in a thread, so every
    message about one alert carries the same reference in its header line."""
    return {
        "text": message.subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:2900]}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Reference: {message.reference}"}],
            },
        ],
    }


def teams(message: Message) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook (Workflows) body: one adaptive card."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": message.subject,
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": message.text, "wrap": True},
                        {
                            "type": "TextBlock",
                            "text": f"Reference: {message.reference}",
                            "isSubtle": True,
                            "wrap": True,
                        },
                    ],
                },
            }
        ],
    }
