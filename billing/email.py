"""Email: the one function through which the site sends one, `send_email(message)`.

The site prepares the emails (which, and what they say: `billing.notices`); sending
them is the merchant's mailer's job. Point it there in one of two ways:
  - at start, `app.extensions[SENDER] = my_send`, a function taking a `Message`;
  - or replace `deliver_by_default` below with a call to your mailer.
It is called while a webhook is applied, before that is committed: if it raises, the
event is not recorded and Stripe delivers it again later, so an email goes out at
least once. Keep it quick (hand the message to a queue), as Stripe waits on it.

By default nothing is sent: one log line says an email was prepared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

log = logging.getLogger(__name__)

# The app.extensions key of the function that sends emails (default: deliver_by_default).
SENDER = "send_email"  # offline, the demo kit's Outbox plugs in here


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    # Plain text; its links are credentials for one step each (see billing.links).
    text: str


class EmailNotSent(Exception):
    """The mailer failed; the webhook answers 503 so that Stripe delivers the event again."""


def send_email(message: Message) -> None:
    """Hand `message` to the mailer set in app.extensions[SENDER], else to the default."""
    sender: Callable[[Message], None] = current_app.extensions.get(SENDER, deliver_by_default)
    try:
        sender(message)
    except Exception as e:  # whatever the merchant's mailer raises: Stripe's retry tries again
        # Its type only: a mailer's message may hold its login, or the email's link.
        raise EmailNotSent(f"the mailer failed ({type(e).__name__})") from e


def deliver_by_default(message: Message) -> None:
    """No mailer: log that an email was prepared. Not its text: its link opens a step of
    the customer's billing for anyone who reads it, and logs are read by more people,
    for longer, than the customer's inbox. Nor the whole address."""
    local, _, domain = message.to.partition("@")
    log.info("Email prepared for %s…@%s: %r (no mailer set: see billing/email.py)", local[:1], domain, message.subject)
