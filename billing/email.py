"""Email: the one function through which the site sends one, `send_email(message)`.

The site prepares the emails (which, and what they say: `billing.notices`); the
background worker sends each after the refresh that called for it is committed.
Where it goes, the first that applies:
  - a function plugged in at start, `app.extensions[SENDER] = my_send`, taking a
    `Message` (offline, the demo's Outbox);
  - the SMTP server MAIL_URL names, from MAIL_FROM (billing/smtp.py);
  - else nowhere: one log line says an email was prepared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from billing import smtp
from billing.settings import Settings

log = logging.getLogger(__name__)

# The app.extensions key of a function that sends emails instead of SMTP or the log.
SENDER = "send_email"  # offline, the demo kit's Outbox plugs in here


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    # Plain text; its links are credentials for one step each (see billing.links).
    text: str


class EmailNotSent(Exception):
    """The mailer failed; the message says how, without the login, the address or the link."""


def send_email(message: Message) -> None:
    """Hand `message` to the plugged-in sender, else to SMTP, else to the log."""
    sender: Callable[[Message], None] | None = current_app.extensions.get(SENDER)
    if sender is None:
        settings: Settings = current_app.extensions["settings"]
        sender = deliver_by_smtp if settings.mail else deliver_by_default
    try:
        sender(message)
    except Exception as e:  # whatever the mailer raises: the worker tries again later
        raise EmailNotSent(f"the mailer failed ({failure(e)})") from e


def failure(e: Exception) -> str:
    """How a mailer failed, told safely: its type, and an SMTP reply's code. Not its message,
    which may hold the login, the customer's address or the email's link."""
    code = getattr(e, "smtp_code", None)
    return f"{type(e).__name__}{f' {code}' if code else ''}"


def deliver_by_smtp(message: Message) -> None:
    smtp.send(message.to, message.subject, message.text)


def deliver_by_default(message: Message) -> None:
    """No mailer: log that an email was prepared. Not its text: its link opens a step of
    the customer's billing for anyone who reads it, and logs are read by more people,
    for longer, than the customer's inbox. Nor the whole address."""
    local, _, domain = message.to.partition("@")
    log.info("Email prepared for %s…@%s: %r (no MAIL_URL: see billing/email.py)", local[:1], domain, message.subject)
