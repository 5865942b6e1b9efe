"""Vendor bodies for the independent scenario, exactly as domain.md documents them.

Shared state (deliveries, work labels) is filled by generate.py's personas.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent
T0 = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 45
RNG = random.Random(12)
KEY_URL = (
    "https://api-eu.myconnectwise.net/v4_6_release/apis/3.0/system/callbacks/key"
    "?companyName=kuhnit&id=6b1f0c5e-2a7d-4c1e-9d3f-0e5a7b9c1d2f"
)

deliveries: list[dict] = []
work: dict[str, str] = {}
signals: list[dict] = []
health: dict[str, str] = {}


def uid(*parts: object) -> str:
    return str(uuid.UUID(hashlib.md5("|".join(map(str, parts)).encode()).hexdigest()))


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day: float, hour: float = 9.0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def send(t: datetime, source: str, body: object, lag_s: int = 2) -> None:
    raw = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    deliveries.append(
        {
            "at": iso(t + timedelta(seconds=lag_s)),
            "source": source,
            "headers": {"content-type": "application/json"},
            "body": raw,
        }
    )


# ---------------------------------------------------------------- ConnectWise (German)
CW_CO = {
    "alpen": (301, "AlpenBau", "Alpen Bau GmbH"),
    "cedar": (303, "CedarClinic", "Cedar Clinic"),
    "elm": (305, "ElmAccounting", "Elm Accounting"),
    "fjord": (306, "FjordShipping", "Fjord Shipping"),
    "heron": (308, "HeronArch", "Heron Architekten"),
    "ivy": (309, "IvyRetail", "Ivy Retail"),
    "mira": (311, "MiraOptik", "Mira Optik"),
}
MEMBERS = {"mkraus": (41, "Max Kraus"), "lvogt": (42, "Lena Vogt"), "tberg": (43, "Tom Berg")}
PRIO = {
    1: "Priorität 1 - Kritisch",
    2: "Priorität 2 - Hoch",
    3: "Priorität 3 - Mittel",
    4: "Priorität 4 - Niedrig",
}
_ids = {"cwt": 70000, "cwtime": 150000, "cwsched": 20000, "at": 500000, "halo": 3000}


def nid(kind: str) -> int:
    _ids[kind] += RNG.randint(1, 3)
    return _ids[kind]


def cw_cb(action: str, typ: str, rid: int, entity: dict) -> str:
    body = {
        "MessageId": uid("cw", typ, rid, action, entity.get("_info", {}).get("lastUpdated")),
        "FromUrl": "api-eu.myconnectwise.net",
        "CompanyId": "kuhnit",
        "MemberId": "partnerpulse",
        "Action": action,
        "Type": typ,
        "ID": rid,
        "ProductInstanceId": "6512a0c2b1e9f00001a7c3d4",
        "PartnerId": "6512a0c2b1e9f00001a7c3d5",
        "Entity": json.dumps(entity, ensure_ascii=False, separators=(",", ":")),
        "Metadata": {"key_url": KEY_URL},
        "CallbackObjectRecId": 31001,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def cw_ticket(
    client: str,
    t: datetime,
    summary: str,
    *,
    typ: str = "Störung",
    source: str = "E-Mail-Connector",
    by: str = "E-Mail-Connector",
    prio: int = 3,
    where: str = "Fernwartung",
    board: str = "Servicedesk",
    hours: float = 0.75,
    tech: str = "lvogt",
    work_type: str = "Fernwartung",
    label: str | None = None,
    configs: list[str] | None = None,
    resolve_after_h: float = 3.0,
) -> int:
    cid, ident, name = CW_CO[client]
    tid = nid("cwt")
    ent: dict = {
        "id": tid,
        "summary": summary,
        "recordType": "ServiceTicket",
        "board": {"id": 1 if board == "Servicedesk" else 2, "name": board},
        "status": {"id": 16, "name": "Neu"},
        "company": {"id": cid, "identifier": ident, "name": name},
        "type": {"id": 14, "name": typ},
        "priority": {"id": 10 - prio, "name": PRIO[prio]},
        "serviceLocation": {"id": 1, "name": where},
        "closedFlag": False,
        "_info": {
            "lastUpdated": iso(t),
            "updatedBy": by,
            "dateEntered": iso(t),
            "enteredBy": by,
        },
    }
    if source:
        ent["source"] = {"id": 3, "name": source}
    if configs:
        ent["configurations"] = [
            {"id": 9000 + i, "deviceIdentifier": c, "name": c} for i, c in enumerate(configs)
        ]
    send(t, "connectwise", cw_cb("added", "ticket", tid, ent))
    done = t + timedelta(hours=resolve_after_h)
    upd = dict(ent)
    upd["status"] = {"id": 20, "name": "Geschlossen"}
    upd["closedFlag"] = True
    upd["dateResolved"] = iso(done)
    upd["owner"] = {"identifier": tech, "name": MEMBERS[tech][1]}
    upd["_info"] = dict(ent["_info"], lastUpdated=iso(done), updatedBy=tech)
    send(done, "connectwise", cw_cb("updated", "ticket", tid, upd), lag_s=5)
    # client-initiated requests are reactive work (RHEM counts them); planned work is not
    cls = label or ("proactive" if typ == "Wartung" else "reactive")
    work[f"connectwise:ticket:{tid}"] = cls
    if hours:
        cw_time(client, t + timedelta(hours=1), hours, tech, work_type, tid, cls)
    return tid


def cw_recommendation(
    client: str,
    presented: datetime,
    due: datetime,
    summary: str,
    status: str | None = None,
    answered: datetime | None = None,
    by: str = "mkraus",
) -> int:
    """A vCIO recommendation kept as a ticket on the recommendations board."""
    cid, ident, name = CW_CO[client]
    tid = nid("cwt")
    ent: dict = {
        "id": tid,
        "summary": summary,
        "recordType": "ServiceTicket",
        "board": {"id": 7, "name": "vCIO Empfehlungen"},
        "status": {"id": 16, "name": "Neu"},
        "company": {"id": cid, "identifier": ident, "name": name},
        "type": {"id": 15, "name": "Empfehlung"},
        "priority": {"id": 7, "name": PRIO[3]},
        "requiredDate": iso(due),
        "closedFlag": False,
        "_info": {
            "lastUpdated": iso(presented),
            "updatedBy": by,
            "dateEntered": iso(presented),
            "enteredBy": by,
        },
    }
    send(presented, "connectwise", cw_cb("added", "ticket", tid, ent))
    if status and answered:
        upd = dict(ent, status={"id": 21, "name": status}, closedFlag=True)
        upd["_info"] = dict(ent["_info"], lastUpdated=iso(answered), updatedBy=by)
        send(answered, "connectwise", cw_cb("updated", "ticket", tid, upd))
    return tid


def cw_time(
    client: str,
    start: datetime,
    hours: float,
    tech: str,
    work_type: str,
    ticket: int | None,
    cls: str,
    notes: str = "",
) -> int:
    cid, ident, name = CW_CO[client]
    eid = nid("cwtime")
    end = start + timedelta(hours=hours)
    ent = {
        "id": eid,
        "company": {"id": cid, "identifier": ident, "name": name},
        "chargeToId": ticket if ticket else 7,
        "chargeToType": "ServiceTicket" if ticket else "ChargeCode",
        "member": {"id": MEMBERS[tech][0], "identifier": tech, "name": MEMBERS[tech][1]},
        "workType": {"id": 2, "name": work_type},
        "timeStart": iso(start),
        "timeEnd": iso(end),
        "actualHours": hours,
        "notes": notes,
        "enteredBy": tech,
        "dateEntered": iso(end + timedelta(minutes=5)),
        "_info": {"lastUpdated": iso(end + timedelta(minutes=5)), "updatedBy": tech},
    }
    send(end + timedelta(minutes=5), "connectwise", cw_cb("added", "time", eid, ent))
    work[f"connectwise:time:{eid}"] = cls
    return eid


def cw_schedule(
    client: str,
    booked: datetime,
    start: datetime,
    hours: float,
    name: str,
    typ: str,
    status: str,
    tech: str = "tberg",
    where: str = "Vor Ort",
    changed: datetime | None = None,
    meeting: bool = False,
) -> int:
    cid, ident, cname = CW_CO[client]
    sid = nid("cwsched")
    ent = {
        "id": sid,
        "objectId": 0,
        "name": f"{cname} {name}",
        "member": {"id": MEMBERS[tech][0], "identifier": tech, "name": MEMBERS[tech][1]},
        "company": {"id": cid, "identifier": ident, "name": cname},
        "where": {"id": 1 if where == "Vor Ort" else 2, "name": where},
        "dateStart": iso(start),
        "dateEnd": iso(start + timedelta(hours=hours)),
        "status": {"id": 1, "name": "Geplant"},
        "type": {"id": 9, "identifier": typ[:1], "name": typ},
        "meetingFlag": meeting,
        "doneFlag": False,
        "_info": {
            "lastUpdated": iso(booked),
            "updatedBy": tech,
            "dateEntered": iso(booked),
            "enteredBy": tech,
        },
    }
    send(booked, "connectwise", cw_cb("added", "schedule", sid, ent))
    if status != "Geplant":
        when = changed or (start + timedelta(hours=hours))
        upd = dict(ent, status={"id": 7, "name": status}, doneFlag=status == "Erledigt")
        upd["_info"] = dict(ent["_info"], lastUpdated=iso(when))
        send(when, "connectwise", cw_cb("updated", "schedule", sid, upd))
    return sid


# ---------------------------------------------------------------- Autotask
AT_CO = {"birch": 40002, "grove": 40007, "larch": 40012}
AT_RES = {"mkraus": 30100001, "lvogt": 30100002, "tberg": 30100003}
AT_DESK, AT_AUTO, QBR_QUEUE = 30100000, 30100009, 29900010


def at_ticket(
    client: str,
    t: datetime,
    title: str,
    *,
    ttype: int = 2,
    source: int = 4,
    prio: int = 2,
    creator: int = AT_DESK,
    queue: int = 29682833,
    label: str | None = None,
    resolve_after_h: float | None = 4.0,
    final_status: int = 5,
    extra: dict | None = None,
    status_at: datetime | None = None,
) -> int:
    tid = nid("at")
    number = f"T{t:%Y%m%d}.{tid % 10000:04d}"
    fields = {
        "id": tid,
        "ticketNumber": number,
        "title": title,
        "source": source,
        "ticketType": ttype,
        "priority": prio,
        "status": 1,
        "queueID": queue,
        "companyID": AT_CO[client],
        "creatorType": 1,
        "creatorResourceID": creator,
        "assignedResourceID": AT_RES["lvogt"],
        "createDate": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        **(extra or {}),
    }
    guid = uid("at-hook", "Ticket")
    send(
        t,
        "autotask",
        {
            "Action": "Create",
            "Guid": guid,
            "EntityType": "Ticket",
            "Id": tid,
            "Fields": fields,
            "EventTime": iso(t),
            "SequenceNumber": 1,
            "PersonId": creator,
        },
    )
    if resolve_after_h is not None or status_at is not None:
        done = status_at or t + timedelta(hours=resolve_after_h or 0)
        upd = {
            "ticketNumber": number,
            "companyID": AT_CO[client],
            "queueID": queue,
            "ticketType": ttype,
            "status": final_status,
            "lastActivityDate": iso(done),
        }
        if final_status == 5 and queue != QBR_QUEUE:
            upd["firstResponseDateTime"] = iso(t + timedelta(minutes=20))
            upd["resolvedDateTime"] = iso(done)
        send(
            done,
            "autotask",
            {
                "Action": "Update",
                "Guid": guid,
                "EntityType": "Ticket",
                "Id": tid,
                "Fields": upd,
                "EventTime": iso(done),
                "SequenceNumber": 2,
                "PersonId": AT_RES["lvogt"],
            },
        )
    if queue != QBR_QUEUE:
        work[f"autotask:ticket:{tid}"] = label or "reactive"
    return tid


# ---------------------------------------------------------------- HaloPSA
HALO_CO = {"delta": (44, "Delta Freight"), "kestrel": (45, "Kestrel Engineering")}


def halo_ticket(
    client: str,
    t: datetime,
    summary: str,
    *,
    ttype: int = 1,
    prio: int = 3,
    agent: int = 0,
    who: str = "",
    user_email: str = "",
    source: int = 0,
    occurred: datetime | None = None,
    label: str | None = None,
    hours: float = 0.5,
) -> int:
    cid, cname = HALO_CO[client]
    tid = nid("halo")
    tk = {
        "id": tid,
        "summary": summary,
        "details": summary,
        "tickettype_id": ttype,
        "priority_id": prio,
        "status_id": 1,
        "client_id": cid,
        "client_name": cname,
        "site_id": cid * 10,
        "site_name": "Main",
        "user_id": 0 if agent else 500 + tid % 50,
        "user_name": who,
        "user_email": user_email,
        "agent_id": agent,
        "team": "Service Desk",
        "source": source,
        "dateoccurred": (occurred or t).strftime("%Y-%m-%dT%H:%M:%S"),
        "datecreated": t.strftime("%Y-%m-%dT%H:%M:%S"),
        "responsedate": None,
        "dateclosed": None,
        "timetaken": 0,
        "lastactiondate": t.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    act = {
        "id": 1,
        "ticket_id": tid,
        "outcome": "Logged",
        "who": who,
        "who_type": 1 if agent else 2,
        "who_agentid": agent,
        "datetime": t.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    send(t, "halopsa", {"event": "New Ticket Logged", "ticket": tk, "action": act})
    done = t + timedelta(hours=3)
    tk2 = dict(
        tk,
        status_id=9,
        agent_id=agent or 4,
        timetaken=hours,
        responsedate=(t + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%S"),
        dateclosed=done.strftime("%Y-%m-%dT%H:%M:%S"),
        lastactiondate=done.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    act2 = {
        "id": 2,
        "ticket_id": tid,
        "outcome": "Closed",
        "who": "Lena Vogt",
        "who_type": 1,
        "who_agentid": 5,
        "datetime": done.strftime("%Y-%m-%dT%H:%M:%S"),
        "timetaken": hours,
    }
    send(done, "halopsa", {"event": "Ticket Updated", "ticket": tk2, "action": act2})
    work[f"halopsa:ticket:{tid}"] = label or ("proactive" if ttype == 6 else "reactive")
    return tid
