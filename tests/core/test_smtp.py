"""Emails really sent: `send_email` through a real SMTP server on loopback (aiosmtpd),
then what arrived read back. A failure is EmailNotSent, and the SMTP password is in no
log line, no exception text and no settings message."""

from __future__ import annotations

import logging
import socket
import time
from email import message_from_bytes, policy
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from billing import smtp
from billing.email import SENDER, EmailNotSent, Message, send_email
from billing.settings import ConfigError, load_settings
from tests.helpers import core_app

# A password with the characters a URL must percent-encode.
PASSWORD = "s3cret/p@ss:word-9f2c"
ENCODED = quote(PASSWORD, safe="")
FROM = "Acme Cloud <billing@acme.example>"
# As long as a real link (billing.links), with every character its token may hold.
LINK = "http://localhost/links/" + "eyJ1Ijo4LCJlIjoiYWFi_MzdjIn0.Zx-9=" * 8
MESSAGE = Message(
    to="ada@example.com",
    subject="Your Acme Cloud trial ends on 1 December – 3 days left",
    text=f"Hello,\n\nYour trial ends soon, then €9 per month.\n\nAdd a card here:\n{LINK}\n\nAcme Cloud\n",
)
# This session's ports (the brief's range), so parallel runs on one machine don't meet.
PORTS = range(64000, 64100)


def loopback_port(host: str = "127.0.0.1") -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


class SMTPServer:
    """A real SMTP server on loopback that keeps what arrived, and the logins it was given."""

    def __init__(self, host: str = "127.0.0.1", accept_login: bool = True) -> None:
        self.arrived: list = []
        self.logins: list[tuple[str, str]] = []
        self.accept_login = accept_login
        self.port = loopback_port(host)
        self.controller = Controller(
            self, hostname=host, port=self.port, authenticator=self.authenticate, auth_require_tls=False
        )

    async def handle_DATA(self, server, session, envelope):
        self.arrived.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=self.accept_login, handled=False)  # False: the server answers 535

    def url(self, scheme: str = "smtp") -> str:
        return f"{scheme}://mailer:{ENCODED}@{self.controller.hostname}:{self.port}"


@pytest.fixture
def server():
    s = SMTPServer()
    s.controller.start()
    yield s
    s.controller.stop()


def mail_app(tmp_path, url):
    return core_app(tmp_path, MAIL_URL=url, MAIL_FROM=FROM)


def send(app, message=MESSAGE):
    with app.app_context():
        send_email(message)


def test_an_email_arrives_whole_with_its_link_on_one_line(tmp_path, server):
    send(mail_app(tmp_path, server.url()))
    [envelope] = server.arrived
    assert server.logins == [("mailer", PASSWORD)]  # percent-decoded from MAIL_URL
    assert (envelope.mail_from, envelope.rcpt_tos) == ("billing@acme.example", ["ada@example.com"])
    email = message_from_bytes(envelope.content, policy=policy.default)
    assert (email["From"], email["To"], email["Subject"]) == (FROM, MESSAGE.to, MESSAGE.subject)
    assert email.get_content_type() == "text/plain"
    assert email.get_content().replace("\r\n", "\n") == MESSAGE.text
    # 8bit, not quoted-printable: the raw message holds the link whole, on a line of its own,
    # so even a mail reader that shows the source can follow it.
    assert email["Content-Transfer-Encoding"] == "8bit"
    assert LINK.encode() + b"\r\n" in envelope.content


def test_each_call_sends_one_message(tmp_path, server):
    app = mail_app(tmp_path, server.url())
    send(app)
    send(app, Message(to="grace@example.com", subject="Second", text="Another one.\n"))
    assert [e.rcpt_tos for e in server.arrived] == [["ada@example.com"], ["grace@example.com"]]


def test_a_plugged_in_sender_wins_over_smtp(tmp_path, server):
    """Offline, the demo's Outbox is plugged in there: it keeps the email, SMTP gets nothing."""
    app = mail_app(tmp_path, server.url())
    kept: list[Message] = []
    app.extensions[SENDER] = kept.append
    send(app)
    assert kept == [MESSAGE] and server.arrived == []


def secret_free(error: EmailNotSent, caplog, capfd) -> str:
    text = f"{error} {error!r}"
    assert PASSWORD not in text and ENCODED not in text
    assert MESSAGE.to not in text and LINK not in text
    logged = " ".join(r.getMessage() for r in caplog.records)
    captured = capfd.readouterr()
    assert PASSWORD not in logged + captured.out + captured.err
    return str(error)


def test_a_server_that_is_down_is_email_not_sent_without_the_password(tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    app = mail_app(tmp_path, f"smtp://mailer:{ENCODED}@127.0.0.1:{loopback_port()}")
    with pytest.raises(EmailNotSent) as failed:
        send(app)
    assert secret_free(failed.value, caplog, capfd) == "the mailer failed (ConnectionRefusedError)"


def test_a_refused_login_is_email_not_sent_without_the_password(tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    server = SMTPServer(accept_login=False)
    server.controller.start()
    try:
        with pytest.raises(EmailNotSent) as failed:
            send(mail_app(tmp_path, server.url()))
    finally:
        server.controller.stop()
    assert secret_free(failed.value, caplog, capfd) == "the mailer failed (SMTPAuthenticationError 535)"
    assert server.arrived == []


def test_smtp_to_another_host_requires_starttls_before_the_login(tmp_path):
    """127.0.0.2 is not this site's loopback name: MAIL_URL's smtp:// means STARTTLS there,
    and a server that does not offer it (as a man in the middle would arrange) gets no login."""
    server = SMTPServer(host="127.0.0.2")
    server.controller.start()
    try:
        with pytest.raises(EmailNotSent, match=r"\(SMTPNotSupportedError\)"):
            send(mail_app(tmp_path, server.url()))
    finally:
        server.controller.stop()
    assert server.logins == [] and server.arrived == []


def test_smtps_to_a_server_without_tls_fails_rather_than_talking_in_plain(tmp_path, server):
    with pytest.raises(EmailNotSent):
        send(mail_app(tmp_path, server.url("smtps")))
    assert server.logins == [] and server.arrived == []


def test_without_mail_url_an_email_is_one_log_line(app, caplog):
    caplog.set_level(logging.INFO, logger="billing.email")
    send(app)
    [line] = [r.getMessage() for r in caplog.records if r.name == "billing.email"]
    assert line.startswith("Email prepared for a…@example.com") and LINK not in line


@pytest.mark.parametrize(
    "url, problem",
    [
        (f"http://mailer:{ENCODED}@smtp.example.com", "MAIL_URL must be smtp://"),
        (f"smtp://mailer:{ENCODED}@smtp.example.com:99999", "MAIL_URL has a port"),
        (f"smtp://mailer:{ENCODED}@smtp.example.com:587/inbox", "MAIL_URL must name only"),
        # Not percent-encoded: its "/" starts a path, and the message says what to write.
        (f"smtp://mailer:{PASSWORD}@smtp.example.com:587", "MAIL_URL has a port"),
        ("smtp://mailer@smtp.example.com:587", "MAIL_URL must give both"),
    ],
)
def test_a_malformed_mail_url_stops_the_start_naming_it_and_not_its_password(tmp_path, url, problem):
    with pytest.raises(ConfigError) as refused:
        load_settings({"MAIL_URL": url, "MAIL_FROM": FROM}, instance_path=tmp_path)
    assert refused.value.message.startswith(problem)
    assert PASSWORD not in refused.value.message and ENCODED not in refused.value.message


@pytest.mark.parametrize("sender", ["", "billing", "Acme <not an address>"])
def test_mail_from_is_required_with_mail_url_and_must_be_an_address(tmp_path, sender):
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        load_settings({"MAIL_URL": "smtp://127.0.0.1:25", "MAIL_FROM": sender}, instance_path=tmp_path)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("smtp://u:p@smtp.example.com", ("smtp.example.com", 587, "starttls")),
        ("smtps://u:p@smtp.example.com", ("smtp.example.com", 465, "tls")),
        ("smtp://localhost:1025", ("localhost", 1025, "none")),
    ],
)
def test_mail_url_says_how_to_connect(tmp_path, url, expected):
    mail = load_settings({"MAIL_URL": url, "MAIL_FROM": FROM}, instance_path=tmp_path).mail
    assert mail is not None and (mail.host, mail.port, mail.security) == expected
    assert "password=" not in repr(mail)


def test_a_server_that_never_answers_fails_within_the_timeout(tmp_path, monkeypatch):
    """Without a time bound a stalled server would hold the worker forever (Flask-Mail has none)."""
    monkeypatch.setattr(smtp, "TIMEOUT", 0.3)
    with socket.socket() as silent:  # accepts connections (its backlog) and never says a word
        silent.bind(("127.0.0.1", loopback_port()))
        silent.listen()
        app = mail_app(tmp_path, f"smtp://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(EmailNotSent):
            send(app)
    assert time.monotonic() - started < 3


def test_the_smtp_password_is_redacted_from_every_log_line(tmp_path, server, caplog):
    """Whatever logs it (a library echoing its login, say), as the Stripe key is."""
    mail_app(tmp_path, server.url())
    logging.getLogger("some.library").warning("login mailer:%s refused", PASSWORD)
    assert [r.getMessage() for r in caplog.records if r.name == "some.library"] == ["login mailer:[redacted] refused"]
