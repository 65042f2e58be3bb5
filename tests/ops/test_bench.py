"""The benchmark's mechanics (`ops/bench.py`), not its figures: the floor serves the
captured pages byte for byte, and wrk's report is read, errors included."""

from __future__ import annotations

import pytest

from ops import bench

WRK_REPORT = """Running 8s test @ http://127.0.0.1:40000/pricing
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  30.00ms   90.00%
    Req/Sec     3.20k   200.00     3.60k    70.00%
  51234 requests in 8.00s, 500.00MB read
Requests/sec:   6404.25
Transfer/sec:     62.50MB
"""


def test_the_floor_serves_the_captured_html_byte_for_byte(tmp_path):
    pages = {"pricing": "<!doctype html>\n<p>Prix: 10 €</p>\n", "account": "<p>bench@example.com</p>\n\n"}
    for page, html in pages.items():
        (tmp_path / f"{page}.html").write_text(html)
    floor = bench.floor_app(str(tmp_path)).test_client()
    for page, html in pages.items():
        response = floor.get(f"/{page}")
        assert response.status_code == 200
        assert response.get_data(as_text=True) == html


def test_wrk_report_is_read():
    assert bench.requests_per_second(WRK_REPORT) == 6404.25


@pytest.mark.parametrize(
    "trouble", ["  Non-2xx or 3xx responses: 12\n", "  Socket errors: connect 0, read 3, write 0, timeout 0\n"]
)
def test_wrk_errors_stop_the_bench(trouble):
    with pytest.raises(SystemExit, match="wrk saw errors"):
        bench.requests_per_second(WRK_REPORT + trouble)


def test_machine_names_the_cores():
    assert "cores" in bench.machine()
