"""What the simulated MSP's vendors' REST APIs hold: the lines of api.jsonl.

Two kinds of records (see ../shared/scenario-format.md, "api.jsonl"):

- records no webhook carries: Autotask `TimeEntries`, `ServiceCalls` (with their
  `ServiceCallTickets` and `ServiceCallTicketResources`), HaloPSA `Actions` (time) and
  `Appointment` (visits). The pipeline sees them only by polling.
- the API side of every webhook: each webhook body reports a version of a record the API
  holds from the vendor-side time of the change (`api_from_emission`): ConnectWise's
  `Entity`, an Autotask ticket's `Fields`, a Halo `ticket`, a NinjaOne activity, a Datto
  open alert (gone once resolved), a Tactical alert (resolved in place).

`lose` drops a seeded share of the webhooks (never delivered); Autotask keeps each
failed callout in `WebhookEventErrorLogs` with its payload. The truth does not change:
it is what the personas meant, whichever path brings the record.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from services.events.models import Location, Nature, Source
from services.scenario.model import TimeEntry, Visit
from services.scenario.vendors.common import Emission, compact, iso_ms_z, iso_naive, iso_z

Line = dict[str, Any]

# Autotask billing codes and HaloPSA action outcomes per nature of the work: mapped to
# the nature in the tenant file's `work_type` picklists, bar "unknown" (never mapped).
AUTOTASK_BILLING_CODES = {nature: 29683100 + index for index, nature in enumerate(Nature)}
HALO_OUTCOMES = {
    Nature.incident: "Remote Support",
    Nature.problem: "Problem Investigation",
    Nature.request: "Request Fulfilment",
    Nature.change: "Change",
    Nature.maintenance: "Maintenance",
    Nature.project: "Project Work",
    Nature.review: "Review",
    Nature.unknown: "Follow-up",
}
_CW_COLLECTIONS = {
    "ticket": "service/tickets",
    "time": "time/entries",
    "schedule": "schedule/entries",
    "activity": "sales/activities",
}
# Autotask's failed-callout log keeps the attempt a little after the send.
_FAILED_AFTER = timedelta(seconds=30)


def line(at: datetime, source: Source, entity: str, rid: object, body: Any) -> Line:
    deleted = body is None
    out: Line = {"at": iso_z(at), "source": str(source), "entity": entity, "id": str(rid)}
    if deleted:
        out["deleted"] = True
    out["body"] = body
    return out


def work_type_mappings() -> dict[str, dict[str, Any]]:
    """The tenant file's `work_type` picklists for the codes above."""
    known = [n for n in Nature if n is not Nature.unknown]
    return {
        "autotask": {
            "values": {str(AUTOTASK_BILLING_CODES[n]): str(n) for n in known},
            "default": "unknown",
        },
        "halopsa": {"values": {HALO_OUTCOMES[n]: str(n) for n in known}, "default": "unknown"},
    }


# -- records only the API holds ---------------------------------------------------------


def time_entry(entry: TimeEntry) -> list[Line]:
    if entry.source is Source.autotask:
        return [_autotask_time_entry(entry)]
    return [_halo_action(entry)]


def _autotask_time_entry(entry: TimeEntry) -> Line:
    ends = entry.started_at + timedelta(hours=entry.hours)
    body = {
        "id": entry.id,
        "ticketID": entry.ticket.id if entry.ticket is not None else None,
        "taskID": None,
        "resourceID": int(entry.technician.autotask),
        "dateWorked": iso_ms_z(entry.started_at.replace(hour=0, minute=0, second=0)),
        "startDateTime": iso_ms_z(entry.started_at),
        "endDateTime": iso_ms_z(ends),
        "hoursWorked": round(entry.hours, 2),
        "hoursToBill": round(entry.hours, 2),
        "billingCodeID": AUTOTASK_BILLING_CODES[entry.nature],
        "summaryNotes": entry.notes or entry.work_type,
        "createDateTime": iso_ms_z(entry.entered_at),
        "lastModifiedDateTime": iso_ms_z(entry.entered_at),
    }
    return line(entry.entered_at, Source.autotask, "TimeEntries", entry.id, body)


def _halo_action(entry: TimeEntry) -> Line:
    ends = entry.started_at + timedelta(hours=entry.hours)
    agent = entry.technician.halopsa
    body = {
        "id": entry.id,
        "ticket_id": entry.ticket.id if entry.ticket is not None else None,
        "client_id": int(entry.client.psa_company_id),
        "outcome": HALO_OUTCOMES[entry.nature],
        "who": entry.technician.name,
        "who_agentid": int(agent) if agent else 0,
        "timetaken": round(entry.hours, 2),
        "note": entry.notes or entry.work_type,
        "onsite": entry.location is Location.onsite,
        "actionarrivaldate": iso_naive(entry.started_at),
        "actioncompletiondate": iso_naive(ends),
        "actiondatecreated": iso_naive(entry.entered_at),
        "datetime": iso_naive(entry.entered_at),
        "last_update": iso_naive(entry.entered_at),
    }
    return line(entry.entered_at, Source.halopsa, "Actions", entry.id, body)


def visit(record: Visit, end: datetime) -> list[Line]:
    """Booked, then complete a quarter of an hour after it ends (if before `end`)."""
    done_at = record.ends_at + timedelta(minutes=15)
    versions = [(record.booked_at, False)] + ([(done_at, True)] if done_at <= end else [])
    if record.source is Source.autotask:
        return _autotask_service_call(record, versions)
    return [_halo_appointment(record, at, done) for at, done in versions]


def _autotask_service_call(record: Visit, versions: list[tuple[datetime, bool]]) -> list[Line]:
    out = []
    for at, done in versions:
        body = {
            "id": record.id,
            "companyID": int(record.client.psa_company_id),
            "description": record.title,
            "startDateTime": iso_ms_z(record.starts_at),
            "endDateTime": iso_ms_z(record.ends_at),
            "duration": round(record.hours, 2),
            "status": 2 if done else 1,
            "isComplete": 1 if done else 0,
            "createDateTime": iso_ms_z(record.booked_at),
            "lastModifiedDateTime": iso_ms_z(at),
        }
        out.append(line(at, Source.autotask, "ServiceCalls", record.id, body))
    # The links: the call's ticket, and the technician on it (one each, made at booking).
    if record.ticket is not None:
        link = {"id": record.id, "serviceCallID": record.id, "ticketID": record.ticket.id}
        out.append(line(record.booked_at, Source.autotask, "ServiceCallTickets", record.id, link))
        resource = {
            "id": record.id,
            "serviceCallTicketID": record.id,
            "resourceID": int(record.technician.autotask),
        }
        out.append(
            line(
                record.booked_at,
                Source.autotask,
                "ServiceCallTicketResources",
                record.id,
                resource,
            )
        )
    return out


def _halo_appointment(record: Visit, at: datetime, done: bool) -> Line:
    agent = record.technician.halopsa
    onsite = record.location is Location.onsite
    body = {
        "id": record.id,
        "ticket_id": record.ticket.id if record.ticket is not None else None,
        "client_id": int(record.client.psa_company_id),
        "agent_id": int(agent) if agent else None,
        "subject": record.title,
        "start_date": iso_naive(record.starts_at),
        "end_date": iso_naive(record.ends_at),
        "datecreated": iso_naive(record.booked_at),
        "last_update": iso_naive(at),
        "is_onsite": onsite,
        "appointment_type": "Onsite" if onsite else "Remote",
        "complete_status": 1 if done else 0,
        "status": "Complete" if done else "Scheduled",
    }
    return line(at, Source.halopsa, "Appointment", record.id, body)


# -- the API side of the webhooks -------------------------------------------------------


def api_from_emission(emission: Emission) -> list[Line]:
    """The record version a webhook body reports, as the vendor's API holds it."""
    if emission.source is Source.canonical:
        return []  # the MSP's own tools push; no vendor API holds their events
    body = json.loads(emission.body)
    at, source = emission.at, emission.source
    if source is Source.connectwise:
        entity = json.loads(body["Entity"])
        return [line(at, source, _CW_COLLECTIONS[body["Type"]], body["ID"], entity)]
    if source is Source.autotask:
        fields = dict(body["Fields"], lastActivityDate=iso_ms_z(at))
        return [line(at, source, "Tickets", body["Id"], fields)]
    if source is Source.halopsa:
        ticket = dict(body["ticket"], last_update=iso_naive(at))
        return [line(at, source, "Tickets", ticket["id"], ticket)]
    if source is Source.ninjaone:
        return [line(at, source, "activities", body["id"], body)]
    if source is Source.dattormm:
        return [_datto_alert(at, body)]
    return [_tactical_alert(at, body)]


def _datto_alert(at: datetime, body: dict[str, Any]) -> Line:
    """Datto lists open alerts only: a resolved alert leaves the list."""
    uid = body["alert_uid"]
    if body.get("status") == "resolved":
        return line(at, Source.dattormm, "alerts", uid, None)
    alert = {
        "alertUid": uid,
        "priority": body.get("alert_priority"),
        "diagnostics": body.get("alert_message_en"),
        "resolved": False,
        "timestamp": int(at.timestamp() * 1000),
        "alertContext": {
            "@class": body.get("alert_type"),
            "category": body.get("alert_category"),
        },
        "alertSourceInfo": {
            "deviceUid": body.get("device_uid"),
            "deviceName": body.get("device_hostname"),
            "siteUid": body.get("site_uid"),
            "siteName": body.get("site_name"),
        },
    }
    return line(at, Source.dattormm, "alerts", uid, alert)


def _tactical_alert(at: datetime, body: dict[str, Any]) -> Line:
    """Tactical's alerts view lists resolved alerts too, flagged."""
    resolved = body.get("event") == "resolved"
    alert = {
        "id": body["alert_id"],
        "alert_type": body.get("alert_type"),
        "severity": body.get("severity"),
        "alert_time": body.get("alert_time"),
        "resolved": resolved,
        "resolved_on": body.get("resolved_on") if resolved else None,
        "message": body.get("message"),
        "hostname": body.get("hostname"),
        "agent_id": body.get("agent_id"),
        "client_name": body.get("client"),
        "site_name": body.get("site"),
    }
    return line(at, Source.tacticalrmm, "alerts", body["alert_id"], alert)


def ninja_in_time_order(sent: list[Emission]) -> list[Emission]:
    """NinjaOne numbers its activity log in time order (pollers read it by id,
    `newerThan`): the activities' ids, handed out per client while each was played, are
    given again in the order of their times (the same ids; no truth names them)."""
    ninja = sorted((e for e in sent if e.source is Source.ninjaone), key=lambda e: (e.at, e.body))
    ids = sorted(json.loads(e.body)["id"] for e in ninja)
    renamed = {}
    for emission, new_id in zip(ninja, ids, strict=True):
        body = json.loads(emission.body)
        body["id"] = new_id
        renamed[id(emission)] = Emission(emission.at, emission.source, compact(body))
    return [renamed.get(id(e), e) for e in sent]


# -- lost webhooks ----------------------------------------------------------------------


def lose(
    sent: Iterable[Emission], rng: random.Random, share: float
) -> tuple[list[Emission], list[Line]]:
    """Drop `share` of the vendors' webhooks (the MSP's own tools' posts all arrive).
    Returns what is still delivered, and the failed-callout log lines of the Autotask
    ones (Autotask keeps a callout it could not deliver, payload and all)."""
    kept: list[Emission] = []
    logged: list[Line] = []
    for emission in sorted(sent, key=lambda e: (e.at, e.source, e.body)):
        if emission.source is Source.canonical or rng.random() >= share:
            kept.append(emission)
            continue
        if emission.source is Source.autotask:
            log_id = 900000 + len(logged)
            at = emission.at + _FAILED_AFTER
            record = {
                "id": log_id,
                "webhookID": 1,
                "createDateTime": iso_ms_z(at),
                "errorMessage": "The remote server returned an error: (503) Server Unavailable.",
                "payload": emission.body,
            }
            logged.append(line(at, Source.autotask, "WebhookEventErrorLogs", log_id, record))
    return kept, logged
