"""The benchmark's mechanics (`ops/bench`), not its figures: it runs, with small counts,
and prints each page's cost beside its bare view's; every signed-in view is a distinct
visitor's; wrk's report is read, errors included."""

from __future__ import annotations

import re
import shutil

import pytest

from billing.schema import upgrade_schema
from ops.bench import run, served, site

WRK_REPORT = """Running 8s test @ http://127.0.0.1:40000/pricing
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  30.00ms   90.00%
    Req/Sec     3.20k   200.00     3.60k    70.00%
  51234 requests in 8.00s, 500.00MB read
Requests/sec:   6404.25
Transfer/sec:     62.50MB
"""
FIGURE = r"\s+\d+\.\d+"


def test_in_process_it_prints_each_page_beside_its_bare_view(capsys):
    run.main(["--in-process", "--visitors", "12", "--warm-up", "2"])
    out = capsys.readouterr().out
    assert "12 views each" in out and "of 12 customers" in out
    for page in (run.PRICING, run.ACCOUNT):  # mean, median, page / bare
        assert re.search(re.escape(page) + FIGURE * 3, out), out
    for bare in (run.BARE, run.BARE_SIGNED_IN):
        assert re.search(re.escape(bare) + FIGURE * 2, out), out


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk")
def test_served_it_prints_requests_per_second(capsys):
    run.main(["--visitors", "5", "--warm-up", "1", "--seconds", "1", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "wrk sends the next of the 5 visitors' cookies" in out
    for name in (run.PRICING, run.BARE, run.ACCOUNT, run.BARE_SIGNED_IN):
        assert re.search(re.escape(name) + r"\s+\d+ ", out.split("Served:")[1]), out


def test_each_visitor_has_their_own_cookie_and_sees_their_own_page(tmp_path):
    (tmp_path / "instance").mkdir()
    app = site.in_process_app(tmp_path, site.environment(tmp_path / "instance", 1)["DATABASE_URL"])
    with app.app_context():
        upgrade_schema()
    visitors = run.visitors(app, 3)
    assert len({v.cookie for v in visitors}) == 3
    client = app.test_client(use_cookies=False)
    for v in visitors:
        headers = {"Cookie": v.cookie, "User-Agent": site.USER_AGENT}
        page = client.get("/account", headers=headers, environ_base={"REMOTE_ADDR": site.ADDRESS})
        assert page.status_code == 200 and v.email in page.get_data(as_text=True)
        assert "Set-Cookie" not in page.headers  # the session as a browser that signed in sends it
        others = [o.email for o in visitors if o is not v]
        assert not any(email in page.get_data(as_text=True) for email in others)


def test_wrk_report_is_read():
    assert served.requests_per_second(WRK_REPORT) == 6404.25


@pytest.mark.parametrize(
    "trouble", ["  Non-2xx or 3xx responses: 12\n", "  Socket errors: connect 0, read 3, write 0, timeout 0\n"]
)
def test_wrk_errors_stop_the_bench(trouble):
    with pytest.raises(SystemExit, match="wrk saw errors"):
        served.requests_per_second(WRK_REPORT + trouble)


def test_machine_names_the_cores():
    assert "cores" in served.machine()
