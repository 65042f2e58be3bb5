"""Error pages: every refusal and failure gets a page that says what happened
and a way back, never a stack trace; a page that cannot be drawn gets a bare one."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from billing.models import db

log = logging.getLogger(__name__)

# The error page when even error.html cannot be drawn (the database is down, so the header
# can't know who is signed in; or a malformed Host header left no way to build links).
BARE_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Acme Cloud</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><main><section class="panel narrow"><h1>{title}</h1><p>{message}</p>
<p><a class="button secondary" href="/">Pricing</a></p></section></main></body></html>
"""


def error_page(title: str, message: str, status: int, headers: Any = None) -> Response:
    """error.html with this title and message; a bare page if that fails too."""
    try:
        body = render_template("error.html", title=title, message=message)
    except Exception:
        log.warning("Could not draw error.html (answering %s with a bare page)", status, exc_info=True)
        body = BARE_ERROR_PAGE.format(title=escape(title), message=escape(message))
    return Response(body, status, headers)


def refuse(message: str, status: int = 400) -> Response:
    """A request we will not send to Stripe: say why, with a way back."""
    return error_page("We could not do that", message, status)


def csrf_error(e: CSRFError) -> ResponseReturnValue:
    return refuse("This form has expired or did not come from this site. Reload the page and try again.")


def too_many(e: HTTPException) -> ResponseReturnValue:
    if e.response is not None:  # a limit that answers in its own way (see pages.RETURNS)
        return e.response
    message = "Too many attempts. Wait a few minutes, then try again."
    return error_page("Slow down", message, 429, [h for h in e.get_headers() if h[0] == "Retry-After"])


def http_error(e: HTTPException) -> ResponseReturnValue:
    # Keep what the error says beyond its page, such as a 405's Allow header.
    headers = [h for h in e.get_headers() if h[0].lower() != "content-type"]
    return error_page(e.name, e.description or "", e.code or 500, headers)


def database_error(e: SQLAlchemyError) -> Response:
    log.error("Database error: %s", e)
    end_session_quietly()
    message = "We can't reach our database right now, so nothing was saved. Please try again in a moment."
    return error_page("Temporarily unavailable", message, 503, {"Retry-After": "30"})


def unexpected_error(e: Exception) -> ResponseReturnValue:
    log.exception("Unhandled error")
    end_session_quietly()
    message = "Something went wrong on our side. Nothing you did was lost; please try again."
    return error_page("Sorry", message, 500)


def end_session_quietly() -> None:
    """After an error: end the session now (its connection may be dead), so that nothing
    is left for the teardown to fail on once this error's page is made."""
    try:
        db.session.remove()
    except SQLAlchemyError:
        log.warning("Ending the database session failed too", exc_info=True)


def end_session(response: Response) -> Response:
    """End the request's database session before the response leaves, so that a failure
    there is answered as any database error. Flask-SQLAlchemy ends it in teardown, after
    the response is made: there, rolling back a connection PostgreSQL dropped meanwhile (a
    restart while the view waited on Stripe) escapes every error handler, and the server
    answers with its own bare 500. (An after_request function's error skips the handlers
    too, hence the page is made here.)"""
    try:
        db.session.remove()
    except SQLAlchemyError as e:
        return database_error(e)
    return response


def register(app: Flask) -> None:
    """Flask picks the most specific handler: CSRF, 429, any HTTP error, the database, the rest."""
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(429, too_many)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(SQLAlchemyError, database_error)
    app.register_error_handler(Exception, unexpected_error)
    app.after_request(end_session)
