"""Offline mode: the stand-in inside the site plays Stripe, its pages get the
site's security headers, and the merchant's tools work against it."""

from __future__ import annotations

from app import create_app
from tests.core.test_hardening import assert_security_headers
from tests.helpers import database_url


def test_the_offline_stand_ins_pages_get_the_same_headers(client, auth):
    from tests.helpers import local_path

    auth.signup()
    auth.subscribe("pro_monthly")
    portal = local_path(auth.post("/account/billing").headers["Location"])
    confirm = local_path(auth.post("/account/switch-plan", lookup_key="business_monthly").headers["Location"])
    for path in (portal, confirm, "/_standin/p/session/bps_nope", "/_standin/v1/customers"):
        response = client.get(path)
        assert_security_headers(response)
        assert "<script" not in response.get_data(as_text=True) and "style=" not in response.get_data(as_text=True)


def test_offline_mode_doctor_is_clean(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "APP_BASE_URL": "http://localhost",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url(tmp_path, "app"),
        }
    )
    doctor = app.test_cli_runner().invoke(args=["stripe", "doctor"])
    assert doctor.exit_code == 0, doctor.output
    assert "offline mode" in doctor.output
