"""Sending one email through the SMTP server MAIL_URL names, with Flask-Mail.

Flask-Mail (pallets-eco) rather than Flask-Mailman: one small typed module over the
standard library's smtplib, where Flask-Mailman carries a port of Django's mail package;
all it is asked here is a correct MIME message and one SMTP conversation.
Its connection lacks two things this module adds: a time bound and a checked certificate.
"""

from __future__ import annotations

import smtplib
import ssl

import flask_mail
from flask import Flask, current_app

from billing.settings import MailSettings

# Flask-Mail's state (its `_Mail`) in app.extensions, under the key its Message reads.
STATE = "mail"
# Seconds one SMTP step (connect, a command, the message) may take before it fails:
# without a bound a stalled server would hold the worker forever
# (https://github.com/pallets-eco/flask-mail/issues/114, open).
TIMEOUT = 10.0


def init_app(app: Flask, mail: MailSettings | None) -> None:
    """Keep Flask-Mail's settings where its Message and connection look (MAIL_URL set only).
    Built from the checked settings, never from app.config: the password stays out of it."""
    if mail is None:
        return
    mailer = flask_mail.Mail()
    mailer.state = app.extensions[STATE] = mailer.init_mail(
        {
            "MAIL_SERVER": mail.host,
            "MAIL_PORT": mail.port,
            "MAIL_USE_SSL": mail.security == "tls",
            "MAIL_USE_TLS": mail.security == "starttls",
            "MAIL_USERNAME": mail.username,
            "MAIL_PASSWORD": mail.password,
            "MAIL_DEFAULT_SENDER": mail.sender,
            # Both default to the app's own flags: TESTING would send nothing, and DEBUG
            # would print the SMTP conversation (the login's password with it) to stderr.
            "MAIL_SUPPRESS_SEND": False,
            "MAIL_DEBUG": 0,
        }
    )
    app.extensions["mailer"] = mailer


def send(to: str, subject: str, text: str) -> None:
    """One message, plain text, over one connection. Raises whatever smtplib raises.

    Flask-Mail writes the body as 8bit UTF-8, so a long link keeps its line whole."""
    mailer: flask_mail.Mail = current_app.extensions["mailer"]
    message = flask_mail.Message(subject=subject, recipients=[to], body=text)
    with _Connection(mailer) as connection:
        connection.send(message)


def check() -> None:
    """Connect, secure the connection and log in as a send would, then leave (for
    `flask stripe doctor`). Raises whatever smtplib raises."""
    with _Connection(current_app.extensions["mailer"]):
        pass


class _Connection(flask_mail.Connection):
    def configure_host(self) -> smtplib.SMTP:
        """Flask-Mail's own, with a timeout and a verified server: smtplib's default TLS
        context checks no certificate, so anyone on the way could pose as the server and
        read the login (https://docs.python.org/3/library/ssl.html#ssl-security)."""
        mail, context = self.mail, ssl.create_default_context()
        host = (
            smtplib.SMTP_SSL(mail.server, mail.port, timeout=TIMEOUT, context=context)
            if mail.use_ssl
            else smtplib.SMTP(mail.server, mail.port, timeout=TIMEOUT)
        )
        try:
            if mail.use_tls:
                host.starttls(context=context)
            if mail.username and mail.password:
                host.login(mail.username, mail.password)
        except BaseException:
            host.close()
            raise
        return host
