"""Delivery: email over SMTP, Slack and Microsoft Teams incoming webhooks.

Each channel sends one stored message and either returns (delivered), or
raises `DeliveryError`: `permanent` when the far end refused this message for
good (an SMTP 5xx for the recipient or the content, an HTTP 4xx other than
408/429 from a webhook), otherwise the outbox retries with back-off. Chat
webhook URLs come only from the tenant file, by name; they are never logged.
"""

from __future__ import annotations

import smtplib
import ssl

import httpx

from services.alerts import messages
from services.alerts.messages import Message
from services.alerts.model import ChannelKind, Recipient
from services.alerts.settings import AlertsSettings, SmtpSecurity
from services.events.tenant import Tenant


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class EmailChannel:
    def __init__(self, settings: AlertsSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.alerts_smtp_security is SmtpSecurity.tls:
            return smtplib.SMTP_SSL(
                s.alerts_smtp_host,
                s.alerts_smtp_port,
                timeout=s.alerts_smtp_timeout,
                context=ssl.create_default_context(),
            )
        smtp = smtplib.SMTP(s.alerts_smtp_host, s.alerts_smtp_port, timeout=s.alerts_smtp_timeout)
        if s.alerts_smtp_security is SmtpSecurity.starttls:
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def send(self, message: Message, recipient: Recipient) -> None:
        s = self.settings
        mail = messages.email(message, s.alerts_smtp_from, recipient.address, recipient.name)
        try:
            with self._connect() as smtp:
                if s.alerts_smtp_username and s.alerts_smtp_password:
                    smtp.login(s.alerts_smtp_username, s.alerts_smtp_password.get_secret_value())
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"SMTP refused the recipient: {codes}", permanent=all(c >= 500 for c in codes)
            ) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise DeliveryError(
                f"SMTP refused the message: {exc.smtp_code} {exc.smtp_error!r}",
                permanent=exc.smtp_code >= 500,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            where = f"{s.alerts_smtp_host}:{s.alerts_smtp_port}"
            raise DeliveryError(f"SMTP server {where} unavailable: {exc}") from None


class ChatChannel:
    def __init__(self, tenant: Tenant, timeout: float) -> None:
        self.tenant = tenant
        self.http = httpx.Client(timeout=timeout, trust_env=False)

    def send(self, message: Message, recipient: Recipient) -> None:
        webhook = self.tenant.alerts.chat_webhooks.get(recipient.address)
        if webhook is None:
            raise DeliveryError(
                f"chat webhook {recipient.address!r} is no longer in the tenant file",
                permanent=True,
            )
        body = (
            messages.slack(message)
            if recipient.channel is ChannelKind.slack
            else messages.teams(message)
        )
        try:
            response = self.http.post(webhook.url.get_secret_value(), json=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"{recipient.channel.value} webhook {recipient.address!r} unreachable: "
                f"{type(exc).__name__}"
            ) from None
        if response.is_success:
            return
        status = response.status_code
        raise DeliveryError(
            f"{recipient.channel.value} webhook {recipient.address!r} answered {status}: "
            f"{response.text[:200]}",
            permanent=400 <= status < 500 and status not in (408, 429),
        )

    def close(self) -> None:
        self.http.close()


class Channels:
    """Every channel, chosen by the recipient's."""

    def __init__(self, settings: AlertsSettings, tenant: Tenant) -> None:
        self.email = EmailChannel(settings)
        self.chat = ChatChannel(tenant, settings.alerts_chat_timeout)

    def send(self, message: Message, recipient: Recipient) -> None:
        if recipient.channel is ChannelKind.email:
            self.email.send(message, recipient)
        else:
            self.chat.send(message, recipient)

    def close(self) -> None:
        self.chat.close()
