"""The data path with real peers: nothing a client was told is accepted gets lost.

The source is the real OpenTelemetry Python SDK (or hand-made requests where a test must count
exactly what each answer said); upstream is otelite (otlp -> memory_limiter -> batch ->
otlp_grpc with retry and a sending queue); toxiproxy sits between upstream and the downstream,
a second otelite or the real otelcol, each writing what it receives to a file. Spans are counted
by id: every accepted span must arrive; copies are counted and reported (a retry after a timed
out attempt that had reached the downstream sends the span again, as in otelcol).

The binaries: build/otelite, and toxiproxy-server and otelcol-otelite from
scripts/install-go-tools.sh (a missing one fails the test, see tools.py).
"""
from __future__ import annotations

import contextlib
import secrets
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from data_path import (MiB, RssSampler, SdkSource, downstream_otelcol_config,
                       downstream_otelite_config, flood, newest_log,
                       queued_span_ids, random_trace_request, read_leveldb_log,
                       retry_info_delay, rss_bytes, upstream_config, wait_delivered)
from harness import GRPC_METHODS, Ports, grpc_channel, wait_metric, wait_until
from tools import Otelcol, Toxiproxy, free_port

PROXY = "downstream"
# From the end of the last fault until every accepted span is downstream.
RECOVERY_SECONDS = 12


def _service(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _report(record_property, name: str, text: str) -> None:
    """Shows a count in the test output (-s or on failure) and in the JUnit properties."""
    print(f"\n[data-path] {name}: {text}")
    record_property(name, text)


def _chaos(toxi: Toxiproxy, phases: list[tuple[str, float]], log: list) -> None:
    """Runs the fault phases one after the other, each for its duration, then clears it."""
    for kind, seconds in phases:
        t0 = time.monotonic()
        if kind == "latency":
            name = toxi.add_toxic(PROXY, "latency", {"latency": 300, "jitter": 150})
        elif kind == "timeout":
            # Answers stop coming back: requests reach the downstream, the upstream's attempt
            # times out, and the connection is closed after 1.5 s.
            name = toxi.add_toxic(PROXY, "timeout", {"timeout": 1500})
        elif kind == "reset_peer":
            name = toxi.add_toxic(PROXY, "reset_peer", {"timeout": 300})
        elif kind == "outage":
            name = None
            toxi.disable(PROXY)
        else:
            raise ValueError(kind)
        time.sleep(seconds)
        if name:
            toxi.remove_toxic(PROXY, name)
        else:
            toxi.enable(PROXY)
        log.append(f"{kind} {time.monotonic() - t0:.1f}s")


def _forward_through_chaos(otelite, tmp_path, record_property, *, downstream: str,
                           phases: list[tuple[str, float]], rate: float, label: str):
    out = tmp_path / f"{label}-downstream.jsonl"
    with contextlib.ExitStack() as stack:
        toxi = stack.enter_context(Toxiproxy(tmp_path / "toxiproxy"))
        if downstream == "otelite":
            dports = Ports()
            down = otelite(downstream_otelite_config(dports, out), ports=dports, name="downstream")
            target = down.grpc_target
        else:
            port = free_port()
            # Stopped by its PID when the block ends (its log shown if the test failed).
            down = stack.enter_context(
                Otelcol(downstream_otelcol_config(port, out), tmp_path / "otelcol"))
            target = f"127.0.0.1:{port}"
        listen = toxi.create_proxy(PROXY, target)
        uports = Ports()
        up = otelite(upstream_config(
            uports, listen, timeout="1s",
            memory_limiter={"check_interval": "100ms", "limit_mib": 400},
            batch={"timeout": "100ms", "send_batch_size": 200, "send_batch_max_size": 400},
            queue={"num_consumers": 4, "queue_size": 2000}), ports=uports, name="upstream")
        service = _service(label)
        sdk = SdkSource(up.grpc_target, service)
        try:
            sdk.start_stream(rate)
            log: list = []
            _chaos(toxi, phases, log)
            healed = time.monotonic()
            time.sleep(1)
            sdk.stop_stream()
            assert sdk.flush(), "the SDK could not flush its last spans"
        finally:
            sdk.close()
        _report(record_property, f"{label}.phases", ", ".join(log))
        _report(record_property, f"{label}.sdk", sdk.report())
        assert not sdk.failed, f"upstream refused spans: {sdk.report()}"
        assert len(sdk.accepted) == len(sdk.created) > 0, sdk.report()

        d = wait_delivered(out, sdk.accepted, timeout=45, service=service)
        caught_up = time.monotonic() - healed
        _report(record_property, f"{label}.delivery",
                f"{d.summary()}; all there {caught_up:.1f}s after the last fault ended")
        assert not d.missing and not d.unexpected, d.summary()
        # With retry_on_failure.max_interval 1s the upstream must notice the downstream is
        # back within seconds, whatever gRPC's own reconnect backoff had grown to.
        assert caught_up < RECOVERY_SECONDS, (
            f"the backlog took {caught_up:.1f}s to arrive after the downstream came back")

        n = len(sdk.accepted)
        wait_metric(up, "otelcol_receiver_accepted_spans_total", n, timeout=5)
        s = wait_metric(up, "otelcol_exporter_sent_spans_total", n, timeout=10)
        assert s.value("otelcol_exporter_send_failed_spans_total") == 0
        assert s.value("otelcol_exporter_queue_size") == 0
        up.stop()
        if downstream == "otelite":
            down.stop()
        return d, up


def test_every_accepted_span_arrives_through_faults_and_a_60s_outage(otelite, tmp_path,
                                                                     record_property):
    """SDK -> otelite -> toxiproxy (latency, a timeout, resets, then 60 s down) -> otelite."""
    phases = [("latency", 6), ("timeout", 6), ("reset_peer", 6), ("outage", 60)]
    d, up = _forward_through_chaos(otelite, tmp_path, record_property, downstream="otelite",
                                   phases=phases, rate=40, label="otelite")
    # The faults were real: the upstream had to retry.
    assert "retrying" in up.stderr()


def test_every_accepted_span_arrives_at_otelcol_through_faults(otelite, tmp_path,
                                                               record_property):
    """The same with the real otelcol downstream (interop), shorter."""
    phases = [("latency", 3), ("timeout", 4), ("reset_peer", 4), ("outage", 8)]
    d, up = _forward_through_chaos(otelite, tmp_path, record_property, downstream="otelcol",
                                   phases=phases, rate=60, label="otelcol")
    assert "retrying" in up.stderr()


# --------------------------------------------------------------------------------------------
# kill -9 and restart with the on-disk queue


def _persistent_upstream(otelite, target: str, storage: Path, name: str):
    ports = Ports()
    cfg = upstream_config(ports, target, storage_dir=storage, memory_limiter=None,
                          queue={"num_consumers": 2, "queue_size": 1000,
                                 "batch": {"flush_timeout": "100ms", "min_size": 200}})
    return otelite(cfg, ports=ports, name=name)


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if "\twarning\t" in line]


@pytest.mark.parametrize("stop", ["kill9", "kill9_torn_log_tail", "kill9_garbled_log_tail",
                                  "sigterm"])
def test_restart_with_the_on_disk_queue(otelite, tmp_path, record_property, stop):
    """Spans accepted into the on-disk queue while the downstream is down survive kill -9 (and
    a SIGTERM that cannot drain); with the tail of the newest LevelDB log torn, the daemon
    still starts, warns once, and every intact span arrives."""
    out = tmp_path / "downstream.jsonl"
    storage = tmp_path / "queue"
    dports = Ports()
    down = otelite(downstream_otelite_config(dports, out), ports=dports, name="downstream")
    with Toxiproxy(tmp_path / "toxiproxy") as toxi:
        listen = toxi.create_proxy(PROXY, down.grpc_target, enabled=False)
        up = _persistent_upstream(otelite, listen, storage, "upstream")
        service = _service("kill9")
        sdk = SdkSource(up.grpc_target, service, batch=50)
        try:
            for round_ in range(10):  # ten export calls of 50 spans: ten queue records
                sdk.send(50, round_ * 50)
                assert sdk.flush(), "the SDK could not flush"
        finally:
            sdk.close()
        assert not sdk.failed and len(sdk.accepted) == 500, sdk.report()
        # The upstream is trying (and failing) to reach the downstream.
        wait_until(lambda: "retrying" in up.stderr(), 10, "the upstream retrying")

        if stop == "sigterm":
            up.stop()  # exit 0 within shutdown_timeout, the downstream still down
            assert "(500 items) stay in storage for the next start" in up.stderr(), up.stderr()
            assert "dropp" not in up.stderr(), up.stderr()
        else:
            up.send_signal(signal.SIGKILL)
            assert up.wait_exit() == -signal.SIGKILL

        expected = set(sdk.accepted)
        torn: set = set()
        if stop.endswith("_log_tail"):
            log = newest_log(storage)
            data = log.read_bytes()
            records = read_leveldb_log(data)
            assert records and records[-1].end == len(data), (
                f"{log}: {len(records)} whole records, {len(data)} bytes")
            stored = [i for r in records for v in r.puts.values() for i in queued_span_ids(v)]
            assert sorted(stored) == sorted(sdk.accepted), "the log does not hold every span"
            last = records[-1]
            torn = {i for v in last.puts.values() for i in queued_span_ids(v)}
            assert 0 < len(torn) < len(expected)
            middle = last.start + (last.end - last.start) // 2
            with open(log, "r+b") as f:
                if stop == "kill9_torn_log_tail":
                    # A write cut short: the file ends in the middle of its last record.
                    f.truncate(middle)
                else:
                    # Damaged bytes: the second half of the last record overwritten.
                    f.seek(middle)
                    f.write(secrets.token_bytes(last.end - middle))
            expected -= torn

        again = _persistent_upstream(otelite, listen, storage, "upstream-restarted")
        restored = wait_until(
            lambda: next((l for l in again.stderr().splitlines() if "restored" in l), None),
            10, "the restored-batches log line")
        assert f"({len(expected)} items)" in restored, restored
        warnings = [w for w in _warnings(again.stderr()) if "database" in w]
        if stop.endswith("_log_tail"):
            assert len(warnings) == 1, "expected one warning about the log:\n" + "\n".join(warnings)
            assert "write-ahead log was damaged" in warnings[0] and log.name in warnings[0]
        else:
            assert warnings == [], warnings

        toxi.enable(PROXY)
        d = wait_delivered(out, expected, timeout=20, service=service)
        _report(record_property, f"restart.{stop}",
                f"{d.summary()}; lost with the damaged last record: {len(torn)}")
        assert not d.missing, d.summary()
        assert not d.unexpected, f"{d.summary()}: spans of the torn record arrived"
        assert d.duplicates == 0, f"nothing was exported before the restart: {d.summary()}"
        wait_metric(again, "otelcol_exporter_sent_spans_total", len(expected), timeout=10)
        again.stop()
    down.stop()


# --------------------------------------------------------------------------------------------
# overload


FLOOD_SECONDS = 8
FLOOD_CLIENTS = 8         # gRPC clients, and as many HTTP clients
FLOOD_SPANS = 240         # spans per request
FLOOD_ATTR = 1024         # random bytes per span: about 270 KB per request
LIMIT_ABOVE_IDLE_MIB = 40
SPIKE_MIB = 8
# The bound the README states ("What is never lost, and what can be"): RSS stays under
# limit_mib - spike_limit_mib + the requests being received + 8 MiB. A gRPC request is held
# twice while it is checked (gRPC's buffer and the copy that is parsed), an HTTP body once.
RSS_SLACK_MIB = 8


def _in_flight_bound(request_bytes: int) -> int:
    return FLOOD_CLIENTS * (2 * request_bytes + request_bytes)


def _idle_rss(otelite, target: str) -> int:
    """VmRSS of an upstream without a memory limiter, started and left idle for a second."""
    ports = Ports()
    probe = otelite(upstream_config(ports, target, batch={"timeout": "100ms"}),
                    ports=ports, name="idle-probe")
    time.sleep(1)
    rss = max(rss_bytes(probe.pid) for _ in range(3))
    probe.stop()
    return rss


def test_overload_refuses_retryably_and_holds_the_memory_limit(otelite, tmp_path,
                                                               record_property):
    out = tmp_path / "downstream.jsonl"
    dports = Ports()
    down = otelite(downstream_otelite_config(dports, out), ports=dports, name="downstream")
    with Toxiproxy(tmp_path / "toxiproxy") as toxi:
        listen = toxi.create_proxy(PROXY, down.grpc_target, enabled=False)  # blocked downstream
        idle = _idle_rss(otelite, listen)
        limit_mib = idle // MiB + LIMIT_ABOVE_IDLE_MIB
        ports = Ports()
        up = otelite(upstream_config(
            ports, listen,
            memory_limiter={"check_interval": "100ms", "limit_mib": limit_mib,
                            "spike_limit_mib": SPIKE_MIB},
            batch={"timeout": "100ms", "send_batch_size": 256, "send_batch_max_size": 512},
            queue={"num_consumers": 4, "queue_size": 100000}), ports=ports, name="upstream")
        service = _service("flood")
        with RssSampler(up.pid) as rss:
            tally = flood(up.grpc_target, up.http_base, FLOOD_SECONDS,
                          grpc_clients=FLOOD_CLIENTS, http_clients=FLOOD_CLIENTS,
                          spans=FLOOD_SPANS, attr_bytes=FLOOD_ATTR, service=service)
            flood_peak = rss.peak
            # The downstream recovers: the backlog drains.
            toxi.enable(PROXY)
            d = wait_delivered(out, tally.accepted_ids, timeout=60, service=service)
        peak = rss.peak
        _report(record_property, "overload.clients",
                f"sent {tally.sent} spans: accepted {tally.accepted}, refused {tally.refused} "
                f"({tally.refused_requests} requests), errors {len(tally.errors)}")
        bound = (limit_mib - SPIKE_MIB + RSS_SLACK_MIB) * MiB + _in_flight_bound(
            tally.request_bytes)
        _report(record_property, "overload.rss",
                f"idle {idle / MiB:.1f} MiB, limit_mib {limit_mib}, peak during the flood "
                f"{flood_peak / MiB:.1f} MiB, peak with the drain {peak / MiB:.1f} MiB "
                f"({len(rss.samples)} samples); bound {bound / MiB:.1f} MiB")
        _report(record_property, "overload.delivery", d.summary())

        assert not tally.errors, tally.errors
        assert tally.accepted > 0 and tally.refused > 0, "the flood must both fill and overflow"
        assert tally.sent == tally.accepted + tally.refused
        assert tally.refused_without_hint == 0, (
            f"{tally.refused_without_hint} refusals without RetryInfo / Retry-After")
        s = up.scrape()
        labels = {"receiver": "otlp"}
        assert s.value("otelcol_receiver_accepted_spans_total", **labels) == tally.accepted
        refused_items = s.value("otelcol_receiver_refused_spans_total", **labels)
        refused_unread = s.value("otelite_receiver_refused_requests_total", **labels)
        assert refused_items + refused_unread * FLOOD_SPANS == tally.refused, (
            f"otelite counted {refused_items} refused spans and {refused_unread} refused "
            f"requests of {FLOOD_SPANS} spans; the clients were refused {tally.refused}")
        limiter = s.value("otelcol_processor_memory_limiter_refused_spans_total")
        assert limiter + refused_unread > 0, "the memory limit never refused anything"
        assert limiter <= refused_items
        assert s.value("otelcol_exporter_enqueue_failed_spans_total") == 0, (
            "the sending queue refused: the memory limit was not what held the flood back")

        assert not d.missing and not d.unexpected and d.duplicates == 0, d.summary()
        s = wait_metric(up, "otelcol_exporter_sent_spans_total", tally.accepted, timeout=10)
        assert s.value("otelcol_exporter_send_failed_spans_total") == 0
        assert peak <= bound, (
            f"RSS peaked at {peak / MiB:.1f} MiB, over the bound of {bound / MiB:.1f} MiB "
            f"(limit_mib {limit_mib} - spike {SPIKE_MIB} + requests in flight + "
            f"{RSS_SLACK_MIB} MiB)")
        up.stop()
    down.stop()


# --------------------------------------------------------------------------------------------
# block_on_overflow and wait_for_result


def _call_in_thread(target: str, body: bytes, timeout: float = 20):
    """Starts one raw gRPC Export call on a thread; returns (thread, result dict)."""
    import grpc

    result: dict = {}

    def run():
        with grpc_channel(target) as ch:
            call = ch.unary_unary(GRPC_METHODS["traces"], request_serializer=lambda b: b,
                                  response_deserializer=lambda b: b)
            try:
                call(body, timeout=timeout)
                result["code"] = grpc.StatusCode.OK
            except grpc.RpcError as e:
                result["code"] = e.code()
                result["details"] = e.details()
                result["retry_delay"] = retry_info_delay(e)
        result["at"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, result


def _one_span(service: str):
    return random_trace_request(1, 16, service)


def test_block_on_overflow_holds_the_client_instead_of_refusing(otelite, tmp_path):
    import grpc

    out = tmp_path / "downstream.jsonl"
    dports = Ports()
    down = otelite(downstream_otelite_config(dports, out), ports=dports, name="downstream")
    with Toxiproxy(tmp_path / "toxiproxy") as toxi:
        listen = toxi.create_proxy(PROXY, down.grpc_target, enabled=False)
        service = _service("block")
        ups = {}
        for block in (False, True):
            ports = Ports()
            ups[block] = otelite(upstream_config(
                ports, listen, queue={"num_consumers": 1, "queue_size": 2,
                                      "block_on_overflow": block}),
                ports=ports, name=f"upstream-block-{block}")
        accepted = set()
        for block, up in ups.items():
            # One request being retried by the consumer, two waiting: the queue is full.
            for _ in range(3):
                body, ids = _one_span(service)
                t, r = _call_in_thread(up.grpc_target, body)
                t.join(10)
                assert r.get("code") == grpc.StatusCode.OK, r
                accepted.update(ids)
                wait_until(lambda: up.scrape().value("otelcol_exporter_queue_size") <= 2, 5,
                           "the consumer taking the first request")
            body, ids = _one_span(service)
            t, r = _call_in_thread(up.grpc_target, body)
            if not block:
                t.join(10)
                assert r.get("code") == grpc.StatusCode.UNAVAILABLE, r
                assert "queue" in r["details"] and "full" in r["details"], r
                assert r["retry_delay"] == 1.0, f"no RetryInfo of 1 s: {r}"
                body, refused_ids = _one_span(service)
                resp = requests.post(up.http_base + "/v1/traces", data=body, timeout=10,
                                     headers={"Content-Type": "application/x-protobuf"})
                assert resp.status_code == 503 and resp.headers.get("Retry-After") == "1", (
                    resp.status_code, resp.headers)
                s = wait_metric(up, "otelcol_exporter_enqueue_failed_spans_total", 2, timeout=5)
                assert s.value("otelcol_receiver_refused_spans_total") == 2
            else:
                t.join(2)
                assert t.is_alive(), f"a full queue with block_on_overflow answered: {r}"
                blocked = (t, r, ids)
        toxi.enable(PROXY)
        t, r, ids = blocked
        t.join(15)
        assert r.get("code") == grpc.StatusCode.OK, r
        accepted.update(ids)
        d = wait_delivered(out, accepted, timeout=15, service=service)
        assert not d.missing and not d.unexpected, d.summary()
        for up in ups.values():
            up.stop()
    down.stop()


def test_wait_for_result_answers_with_the_export_outcome(otelite, tmp_path):
    import grpc

    out = tmp_path / "downstream.jsonl"
    dports = Ports()
    down = otelite(downstream_otelite_config(dports, out), ports=dports, name="downstream")
    with Toxiproxy(tmp_path / "toxiproxy") as toxi:
        listen = toxi.create_proxy(PROXY, down.grpc_target, enabled=False)
        service = _service("wait")
        wports, gports, fports = Ports(), Ports(), Ports()
        waits = otelite(upstream_config(wports, listen, queue={"wait_for_result": True}),
                        ports=wports, name="upstream-wait")
        gives_up = otelite(upstream_config(gports, listen, retry={"enabled": False},
                                           queue={"wait_for_result": True}),
                           ports=gports, name="upstream-no-retry")
        forgets = otelite(upstream_config(fports, listen, retry={"enabled": False}),
                          ports=fports, name="upstream-no-retry-no-wait")

        # Without retries the export fails at once, and the client hears it (and keeps the data).
        body, lost_ids = _one_span(service)
        t, r = _call_in_thread(gives_up.grpc_target, body)
        t.join(10)
        assert r.get("code") == grpc.StatusCode.UNAVAILABLE, r
        s = wait_metric(gives_up, "otelcol_exporter_send_failed_spans_total", 1, timeout=5)
        assert s.value("otelcol_receiver_refused_spans_total") == 1
        assert s.value("otelcol_receiver_accepted_spans_total") == 0

        # Without wait_for_result the client hears OK before the export: when that fails for
        # good, the span is counted as dropped and the reason logged.
        body, dropped_ids = _one_span(service)
        t, r = _call_in_thread(forgets.grpc_target, body)
        t.join(10)
        assert r.get("code") == grpc.StatusCode.OK, r
        wait_metric(forgets, "otelcol_exporter_send_failed_spans_total", 1, timeout=5)
        dropped = [l for l in forgets.stderr().splitlines() if "dropping 1 spans" in l]
        assert len(dropped) == 1 and "export failed: UNAVAILABLE" in dropped[0], dropped

        # With retries the answer waits for the downstream.
        body, ids = _one_span(service)
        t, r = _call_in_thread(waits.grpc_target, body)
        t.join(2)
        assert t.is_alive(), f"answered before the export succeeded: {r}"
        toxi.enable(PROXY)
        t.join(15)
        assert r.get("code") == grpc.StatusCode.OK, r
        # Answered only once the downstream had taken it: it is there (or being written).
        d = wait_delivered(out, set(ids), timeout=3, service=service)
        assert not d.missing and d.duplicates == 0
        assert not (set(lost_ids) | set(dropped_ids)) & set(d.arrived), (
            "a refused or dropped span was exported")
        for up in (waits, gives_up, forgets):
            up.stop()
    down.stop()
