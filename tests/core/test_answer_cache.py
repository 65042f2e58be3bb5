"""A signed-in page is replayed from memory to the visitor who holds the same cookie,
only until the database changes (in any process) and for at most a minute; no one
else ever gets it, and an answer that changed the session is never replayed."""

from __future__ import annotations

import pytest
import redis
from flask import request

from billing import answer_cache
from billing.accounts import User
from billing.answer_cache import FileVersion, data_version
from billing.models import db
from billing.settings import load_settings
from tests.helpers import Auth, core_app


@pytest.fixture
def seen(app):
    """The paths that reached Flask (an answer from memory never does). On PostgreSQL
    without Redis nothing is kept (see test_where_the_data_version_lives)."""
    if app.extensions["answer_cache"].version is None:
        pytest.skip("no data version here: every view is rendered")
    paths: list[str] = []
    app.before_request(lambda: paths.append(request.path) and None)
    return paths


def sign_up(auth, email="ada@example.com"):
    """Signed up, and the welcome message read (a page showing it is not kept)."""
    auth.signup(email)
    assert "Set-Cookie" in auth.client.get("/account").headers


def rename(app, email, new_email):
    with app.app_context():
        db.session.scalar(db.select(User).where(User.email == email)).email = new_email
        db.session.commit()


def test_the_account_page_is_replayed_until_the_data_changes(app, client, auth, seen):
    sign_up(auth)
    first = client.get("/account")
    again = client.get("/account")
    assert seen.count("/account") == 2  # the welcome, the first: the second never reached Flask
    assert again.get_data() == first.get_data() and dict(again.headers) == dict(first.headers)

    rename(app, "ada@example.com", "ada.lovelace@example.com")  # any commit, by anyone
    assert "ada.lovelace@example.com" in client.get("/account").get_data(as_text=True)
    assert seen.count("/account") == 3


def test_a_commit_by_another_app_on_the_same_database_is_seen_at_once(tmp_path, app, client, auth, seen):
    # As another process on the same database would (a second worker, `flask demo reset`...):
    # a second app, with its own cache, that shares only the database and its version file.
    other = core_app(tmp_path)
    sign_up(auth)
    client.get("/account")
    rename(other, "ada@example.com", "ada.b@example.com")
    assert "ada.b@example.com" in client.get("/account").get_data(as_text=True)


def test_no_one_else_gets_a_visitors_page(app, seen):
    ada, bob = Auth(app.test_client(), app), Auth(app.test_client(), app)
    sign_up(ada, "ada@example.com")
    sign_up(bob, "bob@example.com")
    for _ in range(2):
        assert "ada@example.com" in ada.client.get("/account").get_data(as_text=True)
        page = bob.client.get("/account").get_data(as_text=True)
        assert "bob@example.com" in page and "ada@example.com" not in page
    # Without the cookie: signed out, sent to sign in, as Flask says.
    assert app.test_client().get("/account").status_code == 302


def test_an_answer_that_changed_the_session_is_not_replayed(app, client, auth, seen):
    sign_up(auth)
    auth.post("/account/locale", locale="fr")
    with_message = client.get_cookie("session").value
    shown = client.get("/account")  # shows "Language saved." once, and so sets a new cookie
    assert "Language saved." in shown.get_data(as_text=True) and "Set-Cookie" in shown.headers
    assert "Language saved." not in client.get("/account").get_data(as_text=True)
    # The cookie that still holds the message, sent again: Flask shows it again, as it would.
    before = seen.count("/account")
    replay = app.test_client()
    replay.set_cookie("session", with_message)
    again = replay.get("/account")
    assert "Language saved." in again.get_data(as_text=True)
    assert seen.count("/account") == before + 1


def test_the_visitors_languages_are_part_of_the_address(app, client, auth, seen):
    sign_up(auth)
    for language in ("fr", "fr", "de"):
        client.get("/account", headers={"Accept-Language": language})
    assert seen.count("/account") == 3  # the welcome, fr, de: the second fr from memory


def test_a_kept_answer_lasts_at_most_visitor_seconds(app, client, auth, seen, monkeypatch):
    sign_up(auth)
    client.get("/account")
    monkeypatch.setattr(answer_cache, "VISITOR_SECONDS", 0.0)
    client.get("/account")
    assert seen.count("/account") == 3


def test_not_knowing_whether_the_data_changed_means_rendering_anew(app, client, auth, seen, monkeypatch):
    sign_up(auth)
    client.get("/account")

    def unreadable(self):
        raise OSError("the version file is gone")

    monkeypatch.setattr(FileVersion, "read", unreadable)
    assert client.get("/account").status_code == 200
    assert client.get("/account").status_code == 200
    assert seen.count("/account") == 4


def test_only_pages_that_ask_are_kept(app, client, seen):
    client.get("/signin")  # its form's token makes a session: a cookie from here on
    assert [client.get("/signin").status_code for _ in range(2)] == [200, 200]
    assert seen.count("/signin") == 3


@pytest.mark.parametrize(
    ("database", "limits", "kind"),
    [
        ("sqlite:///{tmp}/app.sqlite", "memory://", FileVersion),
        ("sqlite:///app.sqlite", "memory://", FileVersion),  # relative: in the instance folder
        ("sqlite://", "memory://", type(None)),  # in memory: one process only, but no file to share
        ("postgresql+psycopg://db/app", "memory://", type(None)),  # maybe several machines: nothing kept
        ("postgresql+psycopg://db/app", "redis://127.0.0.1:6379/0", answer_cache.RedisVersion),
        ("postgresql+psycopg://db/app", "redis+sentinel://host:26379/mymaster", type(None)),
    ],
)
def test_where_the_data_version_lives(tmp_path, database, limits, kind):
    (tmp_path / "instance").mkdir()
    env = {"DATABASE_URL": database.format(tmp=tmp_path), "RATELIMIT_STORAGE_URI": limits, "SECRET_KEY": "x" * 32}
    version = data_version(load_settings(env, instance_path=tmp_path), tmp_path / "instance")
    assert type(version) is kind
    if isinstance(version, FileVersion):
        folder = tmp_path if database.startswith("sqlite:///{tmp}") else tmp_path / "instance"
        assert version.path == folder / "app.sqlite.version"
        before = version.read()
        version.bump()
        assert version.read() != before


def test_only_a_cookie_that_says_it_all_is_a_key(app, monkeypatch):
    assert answer_cache.cookie_says_it_all(app)
    monkeypatch.setitem(app.config, "SESSION_PROTECTION", "strong")  # tied to the address
    assert not answer_cache.cookie_says_it_all(app)
    monkeypatch.setitem(app.config, "SESSION_PROTECTION", "basic")
    monkeypatch.setattr(app, "session_interface", object())  # sessions kept on a server
    assert not answer_cache.cookie_says_it_all(app)


def test_a_redis_that_failed_is_left_alone_for_a_moment(monkeypatch):
    version = answer_cache.RedisVersion("redis://127.0.0.1:9/0")  # nothing listens there
    asked: list[str] = []

    def get(key):
        asked.append(key)
        raise redis.ConnectionError("refused")

    monkeypatch.setattr(version.redis, "get", get)
    for _ in range(3):
        with pytest.raises(redis.RedisError):
            version.read()
    assert len(asked) == 1  # the next pages did not wait on it
