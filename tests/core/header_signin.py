"""A sign-in by an SSO proxy's header, in place of billing/accounts.py: what a site whose
users sign in elsewhere plugs in (the README's "Bring your own sign-in"). The tests run
the core's button and page tests on it, to prove billing reaches the signed-in person
through billing.signin only.

The proxy signs people in and names them in X-Forwarded-User; the header is believed only
on a request that comes straight from one of the proxies' addresses (anyone else could
send it too). There are no sign-in pages: the URLs are None."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request

from billing import signin
from tests.helpers import Auth

HEADER = "X-Forwarded-User"
# The test client's address (werkzeug's default REMOTE_ADDR): the proxy, in these tests.
PROXY = "127.0.0.1"

# From here to HeaderAuth: the README's "Bring your own sign-in", word for word but the address.
PROXIES = {PROXY}  # the header is believed only on requests straight from the proxy


@dataclass(frozen=True)
class Person:
    id: str  # stable, never given to another person: it names their billing account
    email: str


class ProxySignIn:
    def current(self) -> Person | None:
        peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", request.remote_addr)
        name = request.headers.get("X-Forwarded-User", "").strip().lower()
        return Person(name, name) if peer in PROXIES and name else None

    def signin_url(self) -> str | None:
        return None  # no sign-in page of ours: the pages show no such link

    signup_url = signout_url = signin_url


def init_app(app: Flask) -> None:
    signin.use(app, ProxySignIn())


class HeaderAuth(Auth):
    """The tests' Auth helper for the header sign-in: the same calls, "signing in" meaning
    that the proxy names this person on every request the client sends from now on."""

    def _as(self, email):
        self.email = email
        self.client.environ_base["HTTP_X_FORWARDED_USER"] = email

    def signup(self, email="ada@example.com", password="correct horse", query=""):
        self._as(email)
        return self.client.get("/account" + query)

    def signin(self, email="ada@example.com", password="correct horse"):
        self._as(email)
        return self.client.get("/account")

    def signout(self):
        self.client.environ_base.pop("HTTP_X_FORWARDED_USER", None)
