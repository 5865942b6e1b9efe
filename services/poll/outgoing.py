"""Which delivery each polled record becomes, with the links it needs looked up first
(the client of a time entry's ticket, a service call's ticket and technician)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.events.models import Source
from services.events.tenant import Tenant
from services.poll.adapters.store import PollStore
from services.poll.adapters.vendor import VendorClient
from services.poll.domain import canonical, deliveries
from services.poll.domain.canonical import Links
from services.poll.domain.deliveries import Outgoing
from services.poll.domain.requests import Request, by_ids
from services.poll.domain.specs import EntitySpec
from services.poll.domain.window import parse_stamp, record_id

# The field naming a ticket's client, per PSA (kept in the link table).
_TICKET_CLIENT = {Source.autotask: "companyID", Source.halopsa: "client_id"}


@dataclass
class Resolver:
    """Looks up links for a page of records: from the store, else from the vendor API."""

    tenant: Tenant
    store: PollStore
    client: VendorClient
    key_url: str = ""  # ConnectWise: where the poller serves its signing key
    connectwise_company: str = ""

    def remember_tickets(self, spec: EntitySpec, records: list[dict[str, Any]]) -> None:
        field = _TICKET_CLIENT.get(spec.source)
        if field is None or spec.entity != "Tickets":
            return
        for record in records:
            client_ref = record.get(field)
            if client_ref not in (None, "", 0):
                self.store.link(spec.source, record_id(spec, record), str(client_ref))

    def ticket_clients(self, source: Source, ticket_ids: set[str]) -> dict[str, str]:
        """The client of each ticket; unknown ones fetched in one request (Autotask `in`)
        or one each (HaloPSA), then kept."""
        found: dict[str, str] = {}
        missing = []
        for ticket in sorted(ticket_ids):
            ref = self.store.client_of_ticket(source, ticket)
            if ref is None:
                missing.append(ticket)
            else:
                found[ticket] = ref
        if not missing:
            return found
        rows: list[dict[str, Any]] = []
        if source is Source.autotask:
            answer = self.client.call(by_ids("Tickets", "id", missing), "Tickets by id")
            rows = list(answer.get("items") or []) if isinstance(answer, dict) else []
        elif source is Source.halopsa:
            for ticket in missing:
                answer = self.client.call(Request("GET", f"api/Tickets/{ticket}"), "Ticket by id")
                if isinstance(answer, dict):
                    rows.append(answer)
        field = _TICKET_CLIENT[source]
        for row in rows:
            if row.get(field) not in (None, "", 0):
                found[str(row["id"])] = str(row[field])
                self.store.link(source, str(row["id"]), str(row[field]))
        return found

    def service_call_links(self, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """Autotask: service call -> (ticket, technician) through ServiceCallTickets and
        ServiceCallTicketResources, two requests per page."""
        if not ids:
            return {}
        calls = self.client.call(by_ids("ServiceCallTickets", "serviceCallID", ids), "links")
        call_rows = list(calls.get("items") or []) if isinstance(calls, dict) else []
        by_call = {str(r["serviceCallID"]): r for r in call_rows if r.get("serviceCallID")}
        sct_ids = [str(r["id"]) for r in by_call.values() if r.get("id") is not None]
        resources: dict[str, str] = {}
        if sct_ids:
            res = self.client.call(
                by_ids("ServiceCallTicketResources", "serviceCallTicketID", sct_ids), "links"
            )
            for row in list(res.get("items") or []) if isinstance(res, dict) else []:
                resources.setdefault(
                    str(row.get("serviceCallTicketID")), str(row.get("resourceID"))
                )
        return {
            call: (
                str(row["ticketID"]) if row.get("ticketID") else None,
                resources.get(str(row.get("id"))),
            )
            for call, row in by_call.items()
        }

    def deliveries(self, spec: EntitySpec, records: list[dict[str, Any]]) -> list[Outgoing]:
        """One page's deliveries, in the page's (time, id) order; None-mapped records
        (a HaloPSA action with no time) are left out."""
        self.remember_tickets(spec, records)
        src, entity = spec.source, spec.entity
        if src is Source.autotask and entity == "Tickets":
            return [deliveries.autotask_ticket(spec, r) for r in records]
        if src is Source.autotask and entity == "WebhookEventErrorLogs":
            failed = (deliveries.autotask_failed_callout(spec, r) for r in records)
            return [out for out in failed if out is not None]
        if src is Source.connectwise:
            company, key_url = self.connectwise_company, self.key_url
            return [
                deliveries.connectwise_callback(spec, r, company_id=company, key_url=key_url)
                for r in records
            ]
        if src is Source.halopsa and entity == "Tickets":
            return [deliveries.halo_ticket(spec, r) for r in records]
        if src is Source.ninjaone and entity == "activities":
            return [deliveries.ninja_activity(spec, r) for r in records]
        return self._canonical(spec, records)

    def _canonical(self, spec: EntitySpec, records: list[dict[str, Any]]) -> list[Outgoing]:
        src, entity = spec.source, spec.entity
        out: list[Outgoing | None] = []
        if src is Source.autotask and entity == "ServiceCalls":
            links = self.service_call_links([record_id(spec, r) for r in records])
            tickets = {t for t, _ in links.values() if t}
            clients = self.ticket_clients(src, tickets)
            for r in records:
                ticket, tech = links.get(record_id(spec, r), (None, None))
                link = Links(clients.get(ticket or ""), ticket, tech)
                out.append(canonical.autotask_service_call(self.tenant, spec, r, link))
        elif src is Source.autotask and entity == "TimeEntries":
            clients = self.ticket_clients(
                src, {str(r["ticketID"]) for r in records if r.get("ticketID")}
            )
            for r in records:
                ticket = str(r["ticketID"]) if r.get("ticketID") else None
                link = Links(clients.get(ticket or ""), ticket)
                out.append(canonical.autotask_time_entry(self.tenant, spec, r, link))
        elif src is Source.autotask and entity == "Appointments":
            out = [canonical.autotask_appointment(self.tenant, spec, r, Links()) for r in records]
        elif src is Source.halopsa and entity in ("Actions", "Appointment"):
            need = {
                str(r["ticket_id"])
                for r in records
                if r.get("ticket_id") and not r.get("client_id")
            }
            clients = self.ticket_clients(src, need)
            build = canonical.halo_action if entity == "Actions" else canonical.halo_appointment
            for r in records:
                ticket = str(r["ticket_id"]) if r.get("ticket_id") else None
                out.append(build(self.tenant, spec, r, Links(clients.get(ticket or ""), ticket)))
        else:
            raise ValueError(f"{src} {entity} is not a modified-cursor collection")
        return [o for o in out if o is not None]


def snapshot_delivery(
    tenant: Tenant,
    spec: EntitySpec,
    record: Mapping[str, Any],
    *,
    gone: bool,
    resolved: bool,
    now: Any,
) -> Outgoing:
    """A snapshot collection's change: an alert raised or resolved, a device new or gone."""
    if spec.entity == "alerts" and spec.source is Source.dattormm:
        if not resolved:
            return deliveries.datto_alert(spec, record, resolved_at=None)
        # The resolved list says when (`resolvedOn`); an alert gone from both lists
        # was resolved by now at the latest.
        when = None if gone else parse_stamp(record.get("resolvedOn"))
        return deliveries.datto_alert(spec, record, resolved_at=when or now)
    if spec.entity == "alerts" and spec.source is Source.tacticalrmm:
        return deliveries.tactical_alert(spec, record, resolved=resolved)
    return canonical.device_change(tenant, spec, record, removed=gone, seen_at=now)
