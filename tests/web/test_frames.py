"""The web view's data, in-process: frames say what xl says, react to xl within a simulated
second, mark BOOST, and the server guards non-loopback addresses with a token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from xensim.host import Host
from xensim.toolstack.web.bind import BindError, is_loopback, parse_bind
from xensim.toolstack.web.recorder import FrameRecorder
from xensim.toolstack.web.server import WebView


def _host() -> Host:
    h = Host(pcpus=1)
    h.create("web", workload="cpu")
    h.create("batch", workload="cpu")
    return h


def _row(frame: dict, name: str) -> dict:
    return next(d for d in frame["domains"] if d["name"] == name)


def test_domains_carry_xl_lists_figures_and_the_scheduler_parameters() -> None:
    h = _host()
    rec = FrameRecorder(h)
    h.run(ms=1000)
    frame = rec.frame()
    _, out, _ = h.xl("list web")
    name, domid, mem, vcpus, state, secs = out.splitlines()[1].split()
    row = _row(frame, "web")
    assert (row["domid"], row["mem_mib"], row["vcpus"], row["state"]) == \
        (int(domid), int(mem), int(vcpus), state)
    assert round(row["cpu_ns"] / 1e9, 1) == float(secs)
    assert row["sched"] == {"weight": 256, "cap": 0}


def test_a_weight_change_moves_the_shares_within_a_simulated_second() -> None:
    h = _host()
    rec = FrameRecorder(h)
    for _ in range(10):
        h.run(ms=200)
        frame = rec.frame()
    # two equal hogs on one pCPU: half each (a 30 ms slice makes a second's split ±3%)
    assert _row(frame, "web")["cpu_pct"] == pytest.approx(50, abs=4)
    assert h.xl("sched-credit -d web -w 1024").rc == 0
    for _ in range(5):
        h.run(ms=200)
        frame = rec.frame()
    # weight 1024 against 256: four fifths, within a slice of the second's 1000 ms
    assert _row(frame, "web")["cpu_pct"] == pytest.approx(80, abs=4)
    assert _row(frame, "web")["sched"]["weight"] == 1024


def _hog_and_waker() -> tuple[Host, FrameRecorder]:
    """One pCPU, a CPU hog and a guest that wakes every 10 ms for 0.2 ms."""
    h = Host(pcpus=1)
    h.create("hog", workload="cpu")
    h.create("waker", workload="duty:busy_ms=0.2,idle_ms=10")
    return h, FrameRecorder(h)


def test_slices_tile_each_pcpu_and_a_waker_runs_boosted() -> None:
    h, rec = _hog_and_waker()
    h.run(ms=500)
    start = h.now
    h.run(ms=500)
    slices = [s for s in rec.frame()["slices"] if s[2] > start]
    closed = [s for s in slices if not s[6]]
    assert all(a[2] <= b[1] for a, b in zip(closed, closed[1:], strict=False))  # no overlap
    waker = h.domain("waker").domid
    boosted = [s for s in closed if s[3] == waker and s[5]]
    assert len(boosted) > 30  # ~50 wake-ups in 0.5 s; credit boosts each
    assert not any(s[5] for s in closed if s[3] == h.domain("hog").domid)


def test_each_frame_carries_only_what_is_new() -> None:
    h = _host()
    rec = FrameRecorder(h)
    h.run(ms=300)
    first = rec.frame()
    h.hv.log("hello from the test")
    h.run(ms=300)
    second = rec.frame()
    assert second["seq"] == first["seq"] + 1
    assert [m for _, m in second["dmesg"]] == ["hello from the test"]
    assert min(s[1] for s in second["slices"]) >= min(s[1] for s in first["slices"] if s[6])
    assert rec.frame()["dmesg"] == []


def test_wake_latency_is_summarised_per_domain() -> None:
    h, rec = _hog_and_waker()
    h.run(ms=1000)
    wake = rec.frame()["wake_us"]
    w = wake[h.domain("waker").domid]
    assert w["n"] > 50 and w["p50"] <= w["p99"] <= w["max"]
    assert w["max"] <= 1000 + 1  # a BOOSTed waker waits at most the 1 ms rate limit


def test_wake_latencies_are_the_ones_the_scheduler_core_measures() -> None:
    h = Host(pcpus=1)
    for i in range(3):
        h.create(f"hog{i}", workload="cpu")
    waker = h.create("waker", workload="duty:busy_ms=2,idle_ms=4")  # loses BOOST at times
    rec = FrameRecorder(h)
    h.run(ms=1500)
    frame = rec.frame()
    core = sorted(x for v in waker.vcpus for x in v.wake_latencies)
    mine = rec.latencies.get(waker.domid)
    assert mine is not None and sorted(mine[1]) == core and len(core) > 100
    assert frame["wake_us"][waker.domid]["max"] == max(core) / 1000


def test_dmesg_lines_are_found_in_a_full_console_ring() -> None:
    h = _host()
    rec = FrameRecorder(h)
    for i in range(5000):  # more than one frame takes, and more than Xen's ring holds
        h.hv.log(f"line {i}")
    lines = [m for _, m in rec.frame()["dmesg"]]
    assert lines == [f"line {i}" for i in range(4800, 5000)]
    h.hv.log("one more")
    assert [m for _, m in rec.frame()["dmesg"]] == ["one more"]


@pytest.mark.parametrize("spec,expected", [
    ("8080", ("127.0.0.1", 8080)), ("0.0.0.0:9000", ("0.0.0.0", 9000)),
    ("[::1]:80", ("::1", 80)), (":81", ("127.0.0.1", 81))])
def test_bind_specs(spec: str, expected: tuple[str, int]) -> None:
    assert parse_bind(spec) == expected


@pytest.mark.parametrize("spec", ["http", "1.2.3.4:", "70000", "a:b"])
def test_bad_bind_specs_say_what_was_expected(spec: str) -> None:
    with pytest.raises(BindError, match=r"expected \[ADDR:\]PORT"):
        parse_bind(spec)


def test_loopback_needs_no_token_and_serves_page_script_and_frames() -> None:
    h = _host()
    view = WebView(h, "127.0.0.1", 0, title="classroom")
    try:
        assert view.token is None and "token" not in view.url
        page = urllib.request.urlopen(view.url, timeout=10).read().decode()
        assert "<title>classroom - xensim live</title>" in page
        assert b"fetch(" in urllib.request.urlopen(view.url + "app.js", timeout=10).read()
        h.run(ms=100)
        view.tick(force=True)
        frames = json.loads(urllib.request.urlopen(view.url + "frames?since=1",
                                                   timeout=10).read())
        assert [f["seq"] for f in frames] == [2]
    finally:
        view.close()


def test_another_address_needs_the_token() -> None:
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    h = _host()
    # what binding 0.0.0.0 does, tested on loopback (tests listen on 127.0.0.1 only)
    view = WebView(h, "127.0.0.1", 0, need_token=True)
    try:
        assert view.token and f"?token={view.token}" in view.url
        port = view.httpd.server_address[1]
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/frames", timeout=10)
        assert exc.value.code == 403
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/?token=wrong", timeout=10)
        ok = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/frames?token={view.token}", timeout=10)
        assert json.loads(ok.read())[0]["seq"] == 1
    finally:
        view.close()
