"""The benchmark's in-process part (`ops/bench.py`) runs the site in offline mode: a
customer signed in and subscribed through the stand-in's Checkout, and each measured
action answers as it should (not how fast)."""

from __future__ import annotations

from ops import bench


def test_each_measured_action_answers(tmp_path):
    client = bench.in_process_client(tmp_path / "instance")
    account = client.get("/account").get_data(as_text=True)
    assert "bench@example.com" in account and "Starter" in account
    floor = tmp_path / "floor"
    floor.mkdir()
    for page in bench.PAGES:
        (floor / f"{page}.html").write_text(f"<p>{page}</p>")
    steps = bench.actions(client, floor)
    assert bench.PRICING_VIEW in steps and bench.ACCOUNT_VIEW in steps
    for step in steps.values():
        step()  # raises SystemExit on an unexpected status
