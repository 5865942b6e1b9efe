"""Who hears of a risk: the client's account lead, or the ops/owner contact (pure)."""

from __future__ import annotations

from services.alerts.model import ChannelKind, Recipient, Role
from services.events.alert_policy import Channels, Contact
from services.events.tenant import Tenant


def _recipients(
    tenant: Tenant, role: Role, name: str, email: str | None, chat: list[str]
) -> tuple[Recipient, ...]:
    out: list[Recipient] = []
    if email:
        out.append(Recipient(role, name, ChannelKind.email, email))
    for channel_name in chat:
        webhook = tenant.alerts.chat_webhooks[channel_name]
        out.append(Recipient(role, name, ChannelKind(webhook.format.value), channel_name))
    return tuple(out)


def lead_recipients(tenant: Tenant, client_id: str) -> tuple[Recipient, ...]:
    """The client's account lead on the channels configured for the client, else the lead."""
    client = tenant.client(client_id)
    if client is None:
        return ()
    lead = client.account_lead
    policy = tenant.alerts
    channels = policy.clients.get(client_id) or policy.leads.get(lead.email) or Channels()
    return _recipients(
        tenant, Role.lead, lead.name, lead.email if channels.email else None, channels.chat
    )


def escalation_recipients(tenant: Tenant) -> tuple[Recipient, ...]:
    contact: Contact | None = tenant.alerts.escalation.contact
    if contact is None:
        return ()
    return _recipients(tenant, Role.escalation, contact.name, contact.email, contact.chat)


def recipients_for(tenant: Tenant, role: Role, client_id: str | None) -> tuple[Recipient, ...]:
    if role is Role.lead and client_id is not None:
        return lead_recipients(tenant, client_id)
    return escalation_recipients(tenant)
