"""otelite's own logs: service.telemetry.logs.level and .encoding (console | json)."""
from __future__ import annotations

import json

from harness import make_trace_request, post_proto


def _logs(cfg, level, encoding):
    cfg["service"]["telemetry"]["logs"] = {"level": level, "encoding": encoding}


def test_json_encoding_is_one_object_per_line_with_debug_lines(otelite):
    d = otelite.default(mutate=lambda cfg: _logs(cfg, "debug", "json"))
    req, _ = make_trace_request(3)
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    d.stop()
    lines = [l for l in d.stderr().splitlines() if l.strip()]
    assert lines, "no log lines"
    records = [json.loads(l) for l in lines]  # every line is one JSON object
    for r in records:
        assert {"ts", "level", "msg"} <= r.keys(), r
        assert isinstance(r["ts"], float)
    levels = {r["level"] for r in records}
    assert "debug" in levels, levels  # "starting exporter file" and the like
    assert any(r["msg"] == "shutdown complete" for r in records)


def test_console_encoding_and_level_filter(otelite):
    d = otelite.default(mutate=lambda cfg: _logs(cfg, "warn", "console"))
    req, _ = make_trace_request(1)
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    d.stop()
    text = d.stderr()
    # At warn, none of the info lines of a normal start and stop are written.
    assert "otelite is ready" not in text, text
    assert "shutdown complete" not in text, text
    for line in text.splitlines():
        assert not line.lstrip().startswith("{"), f"json line in console encoding: {line}"
