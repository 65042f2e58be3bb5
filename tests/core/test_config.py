"""Settings: each missing or malformed one stops the start with a message naming it."""

import re

import pytest
import sqlalchemy as sa

from billing.models import db
from billing.settings import PROJECT, ConfigError, load_settings
from tests.helpers import TEST_CATALOG, TEST_DATABASE_URL

GOOD = {"STRIPE_SECRET_KEY": "sk_test_abc", "SECRET_KEY": "x" * 32, "APP_BASE_URL": "https://shop.example/"}


def test_no_key_yet(tmp_path):
    s = load_settings({}, instance_path=tmp_path)
    assert s.stripe_secret_key == "" and not s.live_mode
    assert s.app_base_url == "http://127.0.0.1:5000"
    # The generated secret is kept, so sessions survive a restart.
    assert load_settings({}, instance_path=tmp_path).secret_key == s.secret_key


def test_test_key(tmp_path):
    s = load_settings(GOOD, instance_path=tmp_path)
    assert s.stripe_secret_key == "sk_test_abc" and not s.live_mode
    assert s.app_base_url == "https://shop.example"
    assert s.url("/account") == "https://shop.example/account"
    assert s.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    "change, named",
    [
        ({"STRIPE_SECRET_KEY": "pk_test_abc"}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_SECRET_KEY": "sk_live_abc"}, "STRIPE_ALLOW_LIVE_MODE"),
        ({"STRIPE_SECRET_KEY": "rk_live_abc"}, "live-mode key"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"APP_BASE_URL": "shop.example"}, "APP_BASE_URL"),
        ({"APP_BASE_URL": "ftp://shop.example"}, "APP_BASE_URL"),
        ({"STRIPE_API_BASE": "localhost:12111"}, "STRIPE_API_BASE"),
        ({"STRIPE_WEBHOOK_SECRET": "abc"}, "STRIPE_WEBHOOK_SECRET"),
        ({"STRIPE_PORTAL_CONFIGURATION": "conf_1"}, "STRIPE_PORTAL_CONFIGURATION"),
        ({"DATABASE_URL": "app.sqlite"}, "DATABASE_URL"),
        ({"STRIPE_ALLOW_LIVE_MODE": "maybe"}, "STRIPE_ALLOW_LIVE_MODE"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "many"}, "TRUSTED_PROXIES"),
        ({"CATALOG_PATH": "no/such/catalog.toml"}, "CATALOG_PATH names no file"),
        ({"CATALOG_PATH": "billing"}, "CATALOG_PATH names no file"),  # a folder
    ],
)
def test_bad_settings_are_named(tmp_path, change, named):
    with pytest.raises(ConfigError, match=named):
        load_settings({**GOOD, **change}, instance_path=tmp_path)


def test_live_mode_needs_https_except_on_this_machine(tmp_path):
    live = {**GOOD, "STRIPE_SECRET_KEY": "sk_live_abc", "STRIPE_ALLOW_LIVE_MODE": "true"}
    with pytest.raises(ConfigError, match="APP_BASE_URL must be https in live mode"):
        load_settings({**live, "APP_BASE_URL": "http://shop.example"}, instance_path=tmp_path)
    assert load_settings({**live, "APP_BASE_URL": "http://127.0.0.1:5000"}, instance_path=tmp_path).live_mode


def test_live_mode_only_when_allowed(tmp_path):
    s = load_settings(
        {**GOOD, "STRIPE_SECRET_KEY": "sk_live_abc", "STRIPE_ALLOW_LIVE_MODE": "true"}, instance_path=tmp_path
    )
    assert s.live_mode


def test_create_app_refuses_to_start_with_a_bad_setting(tmp_path, monkeypatch):
    from app import create_app

    with pytest.raises(ConfigError, match="APP_BASE_URL"):
        create_app({"STRIPE_SECRET_KEY": "sk_test_abc", "SECRET_KEY": "x" * 32, "APP_BASE_URL": "nope"})


def test_the_catalog_path_is_read_from_the_project_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # wherever the process starts
    assert load_settings(GOOD, instance_path=tmp_path).catalog_path == PROJECT / "billing" / "catalog.toml"
    relative = load_settings({**GOOD, "CATALOG_PATH": TEST_CATALOG}, instance_path=tmp_path)
    assert relative.catalog_path == PROJECT / TEST_CATALOG and relative.catalog_path.is_file()
    (tmp_path / "plans.toml").write_text("")
    absolute = load_settings({**GOOD, "CATALOG_PATH": str(tmp_path / "plans.toml")}, instance_path=tmp_path)
    assert absolute.catalog_path == tmp_path / "plans.toml"


@pytest.mark.parametrize(
    "text, named",
    [("currency = ", "cannot read"), ('currency = "usd"\nproducts = []\n', "at least one [[products]]")],
)
def test_create_app_refuses_a_malformed_catalog_naming_the_setting(tmp_path, text, named):
    from app import create_app

    (tmp_path / "plans.toml").write_text(text)
    settings = {**GOOD, "CATALOG_PATH": str(tmp_path / "plans.toml"), "INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match=r"^CATALOG_PATH: .*" + re.escape(named)):
        create_app(settings)


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's settings")
def test_sqlite_is_tuned_on_this_apps_engine_only(app, tmp_path):
    def pragmas(engine):
        with engine.connect() as connection:
            return [connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in ("journal_mode", "busy_timeout")]

    with app.app_context():
        assert pragmas(db.engine) == ["wal", 15000]
    other = sa.create_engine(f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")  # a forker's own engine
    journal_mode, busy_timeout = pragmas(other)
    assert journal_mode == "delete" and busy_timeout != 15000  # what Python's sqlite3 sets, untouched
    other.dispose()
