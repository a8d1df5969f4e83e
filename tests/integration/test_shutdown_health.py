"""Health check answers, and SIGTERM/SIGINT: drain what was accepted, flush, exit 0.

Not tested: the 503 "Server not available" answer while starting or shutting down. Both
windows are short and depend on timing inside the daemon; there is no way to hold it in either
state from outside without a fixed sleep, so any test of it would be flaky.
"""
from __future__ import annotations

import datetime as dt
import re
import signal
import threading
import time

import grpc
import pytest
import requests

from harness import (grpc_channel, grpc_raw_call, json_spans, make_trace_request,
                     parse_go_duration, post_proto, read_records, wait_until)

_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")


def parse_rfc3339(text: str) -> float:
    m = _RFC3339.match(text)
    assert m, f"not RFC3339: {text!r}"
    y, mo, d, h, mi, s, frac, tz = m.groups()
    tzinfo = dt.timezone.utc
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        tzinfo = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
    base = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tzinfo)
    return base.timestamp() + (float(frac) if frac else 0.0)


def test_health_available(otelite):
    t0 = time.time()
    d = otelite.default()
    r = requests.get(d.health_url(), timeout=5)
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body["status"] == "Server available", body
    up_since = parse_rfc3339(body["upSince"])
    assert t0 - 2 <= up_since <= time.time() + 1, (t0, body)
    first = parse_go_duration(body["uptime"])
    assert 0 <= first <= time.time() - t0 + 1, body

    def later():
        b = requests.get(d.health_url(), timeout=5).json()
        return parse_go_duration(b["uptime"]) > first and b["upSince"] == body["upSince"]

    wait_until(later, 10, "uptime to grow while upSince stays")


def test_health_custom_path(otelite):
    def mutate(cfg):
        cfg["extensions"]["health_check"]["path"] = "/health/status"

    d = otelite.default(mutate=mutate, health_path="/health/status")
    r = requests.get(d.health_url("/health/status"), timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "Server available"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_flush_on_shutdown(otelite, sig):
    """With a flush interval far away, only the shutdown flush can put the data in the file."""
    d = otelite.default(flush_interval="1h")
    req, ids = make_trace_request(5, service="flush-http")
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    req2, ids2 = make_trace_request(5, service="flush-grpc")
    with grpc_channel(d.grpc_target) as ch:
        grpc_raw_call(ch, "traces", req2.SerializeToString())
    d.stop(sig)
    got = [s["spanId"] for _, _, s in json_spans(read_records(d.out))]
    assert sorted(got) == sorted(ids + ids2)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_sending(otelite, sig):
    """Senders on HTTP and gRPC keep going while the daemon is told to stop: every request that
    got a success answer must be in the file, once, and the exit code must be 0."""
    d = otelite.default()
    ok_http: list[str] = []
    ok_grpc: list[str] = []
    stop = threading.Event()
    errors: list = []

    def http_sender():
        s = requests.Session()
        for _ in range(5000):
            if stop.is_set():
                return
            req, ids = make_trace_request(10, service="load-http")
            try:
                r = post_proto(d, "traces", req.SerializeToString(), session=s, timeout=10)
            except requests.RequestException as exc:
                errors.append(exc)
                if not d.running():
                    return
                s = requests.Session()
                time.sleep(0.01)
                continue
            if r.status_code == 200:
                ok_http.extend(ids)

    def grpc_sender():
        ch = grpc_channel(d.grpc_target)
        try:
            for _ in range(5000):
                if stop.is_set():
                    return
                req, ids = make_trace_request(10, service="load-grpc")
                try:
                    grpc_raw_call(ch, "traces", req.SerializeToString(), timeout=10)
                except grpc.RpcError as exc:
                    errors.append(exc)
                    if not d.running():
                        return
                    time.sleep(0.01)
                    continue
                ok_grpc.extend(ids)
        finally:
            ch.close()

    threads = [threading.Thread(target=f, daemon=True) for f in (http_sender, grpc_sender)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(ok_http) >= 300 and len(ok_grpc) >= 300, 30,
                   "both senders to get going")
        d.send_signal(sig)
        rc = d.wait_exit()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert rc == 0, f"exit code {rc}\n{d.stderr()}"
    got = [s["spanId"] for _, _, s in json_spans(read_records(d.out))]
    assert len(got) == len(set(got)), "no span written twice"
    missing = (set(ok_http) | set(ok_grpc)) - set(got)
    assert not missing, (f"{len(missing)} acknowledged spans lost "
                         f"(http ok {len(ok_http)}, grpc ok {len(ok_grpc)}, in file {len(got)})")


def test_not_listening_after_exit(otelite):
    d = otelite.default()
    d.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(d.health_url(), timeout=2)
    req, _ = make_trace_request(1)
    with pytest.raises(requests.ConnectionError):
        post_proto(d, "traces", req.SerializeToString(), timeout=2)
