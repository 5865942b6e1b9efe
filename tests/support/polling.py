"""A small MSP's vendor API records (api.jsonl lines) and the polling configuration that
reads them, for the poller's tests. Client references follow tests/fixtures/tenant.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.events.tenant import Tenant
from services.events.tenant_polling import PollingConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DATTO_SITE = "3f9c1a2e-5d4b-4c6a-9e8f-1a2b3c4d5e6f"


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def line(
    at: datetime, source: str, entity: str, rid: Any, body: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    return {
        "at": iso(at),
        "source": source,
        "entity": entity,
        "id": str(rid),
        "body": body,
        **extra,
    }


# A ticket callout Autotask failed to deliver (kept in WebhookEventErrorLogs).
FAILED_CALLOUT = (
    '{"Action":"Create","Guid":"6d0c2d9a-webhook","EntityType":"Ticket","Id":7302,'
    '"Fields":{"id":7302,"companyID":29683,"title":"Outlook crashes","createDate":'
    '"2026-03-02T09:03:00Z"},"EventTime":"2026-03-02T09:03:00Z","SequenceNumber":12,'
    '"PersonId":29682800}'
)


def autotask_time_entry(rid: int, at: datetime, ticket: int = 7301) -> dict[str, Any]:
    body = {
        "id": rid,
        "ticketID": ticket,
        "resourceID": 29682844,
        "startDateTime": iso(at - timedelta(hours=1)),
        "endDateTime": iso(at),
        "hoursWorked": 1.0,
        "summaryNotes": "patched the server",
        "createDateTime": iso(at),
        "lastModifiedDateTime": iso(at),
    }
    return line(at, "autotask", "TimeEntries", rid, body)


def records() -> list[dict[str, Any]]:
    """One of everything the poller reads (the events they make: tests/integration/test_poll.py)."""
    t = T0
    out = [
        line(
            t,
            "autotask",
            "Tickets",
            7301,
            {
                "id": 7301,
                "companyID": 29683,
                "title": "Server slow",
                "ticketType": 1,
                "createDate": iso(t),
                "lastActivityDate": iso(t),
                "source": 4,
                "priority": 2,
            },
        ),
        autotask_time_entry(5001, t + timedelta(minutes=5)),
        line(
            t + timedelta(minutes=6),
            "autotask",
            "ServiceCalls",
            900,
            {
                "id": 900,
                "companyID": 29683,
                "startDateTime": iso(t + timedelta(days=1)),
                "endDateTime": iso(t + timedelta(days=1, hours=2)),
                "createDateTime": iso(t + timedelta(minutes=6)),
                "lastModifiedDateTime": iso(t + timedelta(minutes=6)),
                "status": 1,
                "isComplete": False,
            },
        ),
        line(
            t + timedelta(minutes=7),
            "autotask",
            "WebhookEventErrorLogs",
            77,
            {"id": 77, "createDateTime": iso(t + timedelta(minutes=7)), "payload": FAILED_CALLOUT},
        ),
        line(
            t,
            "autotask",
            "ServiceCallTickets",
            1900,
            {"id": 1900, "serviceCallID": 900, "ticketID": 7301},
        ),
        line(
            t,
            "autotask",
            "ServiceCallTicketResources",
            2900,
            {"id": 2900, "serviceCallTicketID": 1900, "resourceID": 29682845},
        ),
        line(
            t,
            "connectwise",
            "service/tickets",
            48211,
            {
                "id": 48211,
                "summary": "Printer down",
                "company": {"id": 250, "identifier": "AcmeDental"},
                "board": {"id": 1, "name": "Help Desk"},
                "source": {"id": 2, "name": "Email Connector"},
                "_info": {"lastUpdated": iso(t), "dateEntered": iso(t), "enteredBy": "helpdesk"},
            },
        ),
        line(
            t,
            "connectwise",
            "time/entries",
            7001,
            {
                "id": 7001,
                "company": {"id": 250, "identifier": "AcmeDental"},
                "chargeToType": "ServiceTicket",
                "chargeToId": 48211,
                "member": {"identifier": "stech"},
                "timeStart": iso(t),
                "timeEnd": iso(t + timedelta(hours=1)),
                "actualHours": 1,
                "_info": {"lastUpdated": iso(t), "dateEntered": iso(t)},
            },
        ),
        line(
            t,
            "halopsa",
            "Tickets",
            3001,
            {
                "id": 3001,
                "client_id": 12,
                "summary": "VPN",
                "datecreated": iso(t),
                "dateoccurred": iso(t),
                "lastactiondate": iso(t),
                "tickettype_id": 1,
                "priority_id": 2,
            },
        ),
        line(
            t,
            "halopsa",
            "Actions",
            41,
            {
                "id": 41,
                "ticket_id": 3001,
                "who_agentid": 4,
                "timetaken": 0.5,
                "datetime": iso(t),
                "actiondatecreated": iso(t),
                "note": "fixed",
            },
        ),
        line(
            t,
            "halopsa",
            "Actions",
            42,
            {"id": 42, "ticket_id": 3001, "timetaken": 0, "datetime": iso(t), "note": "note only"},
        ),
        line(
            t,
            "halopsa",
            "Appointment",
            61,
            {
                "id": 61,
                "client_id": 12,
                "agent_id": 5,
                "start_date": iso(t + timedelta(days=2)),
                "end_date": iso(t + timedelta(days=2, hours=1)),
                "is_onsite": True,
                "datecreated": iso(t),
            },
        ),
        line(
            t,
            "ninjaone",
            "activities",
            101,
            {
                "id": 101,
                "activityTime": t.timestamp(),
                "deviceId": 77,
                "severity": "MAJOR",
                "activityType": "CONDITION",
                "statusCode": "TRIGGERED",
                "seriesUid": "s-1",
                "subject": "Disk full",
                "message": "C: 98%",
                "organizationId": 3,
            },
        ),
        line(
            t,
            "ninjaone",
            "activities",
            102,
            {
                "id": 102,
                "activityTime": (t + timedelta(minutes=1)).timestamp(),
                "deviceId": 77,
                "severity": "MAJOR",
                "activityType": "CONDITION",
                "statusCode": "RESET",
                "seriesUid": "s-1",
                "subject": "Disk full",
                "message": "ok",
                "organizationId": 3,
            },
        ),
        line(
            t,
            "dattormm",
            "alerts",
            "a-1",
            {
                "alertUid": "a-1",
                "priority": "High",
                "diagnostics": "CPU 100%",
                "resolved": False,
                "timestamp": int(t.timestamp() * 1000),
                "alertSourceInfo": {
                    "deviceUid": "d-1",
                    "deviceName": "SRV1",
                    "siteUid": DATTO_SITE,
                    "siteName": "Acme",
                },
                "alertContext": {"@class": "perf_resource_usage_ctx"},
            },
        ),
        line(
            t,
            "dattormm",
            "devices",
            "d-1",
            {"uid": "d-1", "siteUid": DATTO_SITE, "hostname": "SRV1"},
        ),
        line(
            t,
            "tacticalrmm",
            "alerts",
            501,
            {
                "id": 501,
                "agent_id": "ag-1",
                "hostname": "WS1",
                "client_name": "Acme Dental",
                "site_name": "HQ",
                "alert_type": "availability",
                "message": "WS1 is overdue",
                "severity": "error",
                "alert_time": iso(t),
                "resolved": False,
                "resolved_on": None,
            },
        ),
        line(
            t,
            "tacticalrmm",
            "agents",
            "ag-1",
            {"agent_id": "ag-1", "hostname": "WS1", "client_name": "Acme Dental"},
        ),
    ]
    return out


def polling_config(base_urls: dict[str, str], **overrides: Any) -> PollingConfig:
    common = {"every_seconds": 0.2, "overlap_seconds": 60}
    data: dict[str, Any] = {
        "backfill_days": 30,
        "autotask": {
            "base_url": base_urls["autotask"],
            "username": "api@msp.example",
            "secret": "at-secret",
            "integration_code": "AT-CODE",
            **common,
        },
        "connectwise": {
            "base_url": base_urls["connectwise"],
            "company_id": "msp",
            "public_key": "pub",
            "private_key": "priv",
            "client_id": "cw-client",
            **common,
        },
        "halopsa": {
            "base_url": base_urls["halopsa"],
            "client_id": "halo-app",
            "client_secret": "halo-secret",
            **common,
        },
        "ninjaone": {
            "base_url": base_urls["ninjaone"],
            "client_id": "ninja-app",
            "client_secret": "ninja-secret",
            **common,
        },
        "dattormm": {
            "base_url": base_urls["dattormm"],
            "api_key": "datto-key",
            "api_secret": "datto-secret",
            **common,
        },
        "tacticalrmm": {"base_url": base_urls["tacticalrmm"], "api_key": "trmm-key", **common},
    }
    for source, values in overrides.items():
        data[source] = None if values is None else {**data[source], **values}
    return PollingConfig.model_validate(data)


def with_polling(tenant: Tenant, polling: PollingConfig) -> Tenant:
    return tenant.model_copy(update={"polling": polling})
