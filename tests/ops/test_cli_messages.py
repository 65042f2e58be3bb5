"""A missing or malformed setting stops every `flask` command with one line that
names it and says how to fix it: no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT


@pytest.mark.parametrize(
    "environment, named",
    [
        ({"STRIPE_SECRET_KEY": "sk_test_x"}, "SECRET_KEY is required when STRIPE_SECRET_KEY is set"),
        ({"STRIPE_SECRET_KEY": "pk_test_x", "SECRET_KEY": "x" * 32}, "STRIPE_SECRET_KEY must be a Stripe secret"),
        ({"STRIPE_SECRET_KEY": "sk_test_x", "SECRET_KEY": "x" * 32, "APP_BASE_URL": "shop"}, "APP_BASE_URL must be"),
        (
            {"STRIPE_SECRET_KEY": "sk_test_x", "SECRET_KEY": "x" * 32, "STRIPE_WEBHOOK_SECRET": "x"},
            "STRIPE_WEBHOOK_SECRET",
        ),
        ({"STRIPE_SECRET_KEY": "sk_test_x", "SECRET_KEY": "x" * 32, "CATALOG_PATH": "plans.toml"}, "CATALOG_PATH"),
    ],
)
@pytest.mark.parametrize("command", [["stripe", "doctor"], ["init-db"]])
def test_a_bad_setting_is_one_line(tmp_path, environment, named, command):
    env = {"PATH": os.environ.get("PATH", ""), "INSTANCE_PATH": str(tmp_path), **environment}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and named in lines[0], done.stderr
