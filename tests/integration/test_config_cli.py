"""The command line and configuration errors: exit codes, file:line: yaml.path messages,
warnings, merging several --config, file: sources, ${env:...} expansion, components, version."""
from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from harness import (REPO_ROOT, Ports, json_spans, make_trace_request, post_proto, read_records,
                     run_cli, wait_for_spans)

GOOD = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  file:
    path: {out}
    flush_interval: 100ms
  debug:
    verbosity: basic
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    metrics:
      receivers: [otlp]
      exporters: [file]
    logs:
      receivers: [otlp]
      exporters: [file, debug]
"""


def good_text(tmp_path: Path, ports: Ports | None = None, out: Path | None = None) -> str:
    ports = ports or Ports()
    return GOOD.format(grpc=ports.grpc, http=ports.http, health=ports.health,
                       metrics=ports.metrics, out=out or tmp_path / "out.jsonl")


def line_of(text: str, needle: str, nth: int = 0) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(hits) > nth, f"{needle!r} not in config"
    return hits[nth]


def insert_after(text: str, anchor: str, new: str) -> str:
    """Inserts `new` (full lines) right after the first line containing `anchor`."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if anchor in line:
            lines.insert(i + 1, new if new.endswith("\n") else new + "\n")
            return "".join(lines)
    raise AssertionError(f"{anchor!r} not found")


def error_lines(stderr: str, cfg: Path, line: int, path: str) -> list[str]:
    """stderr lines naming `cfg:line: path` (path followed by ':', '[', '.' or space)."""
    pat = re.compile(re.escape(f"{cfg}:{line}: {path}") + r"(?=[:\[. ]|$)")
    return [l for l in stderr.splitlines() if pat.search(l)]


# (name, edit(text) -> text, needle for the line, yaml path, words the message must contain)
CASES = [
    ("unknown-exporter-type",
     lambda t: insert_after(t, "verbosity: basic", "  nosuchexporter/x:\n    foo: 1"),
     "nosuchexporter/x:", "exporters.nosuchexporter/x", ["file", "debug"]),
    ("unknown-receiver-type",
     lambda t: insert_after(t, "endpoint: 127.0.0.1:{http}", "  zipkinz:\n    endpoint: x"),
     "zipkinz:", "receivers.zipkinz", ["otlp"]),
    ("unknown-extension-type",
     lambda t: insert_after(t, "endpoint: 127.0.0.1:{health}", "  pprofz: {{}}"),
     "pprofz:", "extensions.pprofz", ["health_check"]),
    ("unknown-key-exporter",
     lambda t: insert_after(t, "flush_interval: 100ms", "    bogus_key: 1"),
     "bogus_key:", "exporters.file.bogus_key", ["bogus_key"]),
    ("unknown-key-receiver",
     lambda t: insert_after(t, "endpoint: 127.0.0.1:{grpc}", "        max_recv_msg_size: 3"),
     "max_recv_msg_size:", "receivers.otlp.protocols.grpc.max_recv_msg_size", []),
    ("bad-duration",
     lambda t: t.replace("flush_interval: 100ms", "flush_interval: soon"),
     "flush_interval: soon", "exporters.file.flush_interval", []),
    ("negative-size",
     lambda t: insert_after(t, "endpoint: 127.0.0.1:{grpc}", "        max_recv_msg_size_mib: -1"),
     "max_recv_msg_size_mib:", "receivers.otlp.protocols.grpc.max_recv_msg_size_mib", []),
    ("port-out-of-range",
     lambda t: t.replace("endpoint: 127.0.0.1:{grpc}", "endpoint: 127.0.0.1:99999"),
     "127.0.0.1:99999", "receivers.otlp.protocols.grpc.endpoint", []),
    ("bad-enum",
     lambda t: t.replace("verbosity: basic", "verbosity: loud"),
     "verbosity: loud", "exporters.debug.verbosity", []),
    ("list-for-string",
     lambda t: t.replace("        endpoint: 127.0.0.1:{http}", "        endpoint: [a, b]"),
     "endpoint: [a, b]", "receivers.otlp.protocols.http.endpoint", []),
    ("undefined-exporter-in-pipeline",
     lambda t: t.replace("exporters: [file, debug]", "exporters: [file, file/missing]"),
     "file/missing", "service.pipelines.logs.exporters", ["file/missing"]),
    ("undefined-receiver-in-pipeline",
     lambda t: t.replace("      receivers: [otlp]\n      exporters: [file]\n    metrics:",
                         "      receivers: [otlp/nope]\n      exporters: [file]\n    metrics:"),
     "otlp/nope", "service.pipelines.traces.receivers", ["otlp/nope"]),
    ("undefined-extension",
     lambda t: t.replace("extensions: [health_check]", "extensions: [health_check, zpages/x]"),
     "zpages/x", "service.extensions", ["zpages/x"]),
    ("unsupported-signal",
     lambda t: t + "    profiles:\n      receivers: [otlp]\n      exporters: [file]\n",
     "profiles:", "service.pipelines.profiles", ["profiles"]),
    ("port-conflict-receivers",
     lambda t: insert_after(
         t.replace("      receivers: [otlp]\n      exporters: [file]\n    metrics:",
                   "      receivers: [otlp, otlp/2]\n      exporters: [file]\n    metrics:"),
         "endpoint: 127.0.0.1:{http}",
         "  otlp/2:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{grpc}"),
     "endpoint: 127.0.0.1:{grpc}", "receivers.otlp/2.protocols.grpc.endpoint", []),
    ("port-conflict-extension",
     lambda t: t.replace("    endpoint: 127.0.0.1:{health}", "    endpoint: 127.0.0.1:{http}"),
     "    endpoint: 127.0.0.1:{http}", "", []),
]


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("mode", ["validate", "run"])
@pytest.mark.parametrize("name,edit,needle,path,words", CASES, ids=[c[0] for c in CASES])
def test_config_error(otelite_bin, tmp_path, mode, name, edit, needle, path, words):
    ports = Ports()
    template = GOOD.replace("{out}", str(tmp_path / "out.jsonl"))
    raw = edit(template)
    fmt = dict(grpc=ports.grpc, http=ports.http, health=ports.health, metrics=ports.metrics)
    text = raw.format(**fmt)
    cfg = _write(tmp_path, text)
    args = ["validate", "--config", str(cfg)] if mode == "validate" else ["--config", str(cfg)]
    try:
        res = run_cli(args, cwd=tmp_path, timeout=8)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"otelite {mode} did not exit within 8s (it accepted the config):\n"
                    f"{(exc.stderr or b'').decode(errors='replace')[-2000:]}")
    assert res.returncode == 1, f"exit {res.returncode}\n{res.stderr}"
    if name == "port-conflict-extension":
        # either side of the conflict may be the one reported
        needle_lines = [line_of(text, needle.format(**fmt), k) for k in range(2)]
        cands = [(needle_lines[0], "receivers.otlp.protocols.http.endpoint"),
                 (needle_lines[1], "extensions.health_check.endpoint")]
    elif name == "port-conflict-receivers":
        n = needle.format(**fmt)
        cands = [(line_of(text, n, 1), path),
                 (line_of(text, n, 0), "receivers.otlp.protocols.grpc.endpoint")]
    else:
        cands = [(line_of(text, needle.format(**fmt)), path)]
    found = [l for line, p in cands for l in error_lines(res.stderr, cfg, line, p)]
    assert found, (f"expected a line '{cfg}:{cands[0][0]}: {cands[0][1]}: ...' in stderr:\n"
                   f"{res.stderr}")
    msg = found[0].split(f"{cfg}:", 1)[1]
    for w in words:
        assert w in msg, f"{w!r} not in {found[0]!r}"


def test_every_error_is_reported(otelite_bin, tmp_path):
    text = good_text(tmp_path)
    text = insert_after(text, "flush_interval: 100ms", "    bogus_key: 1")
    text = text.replace("verbosity: basic", "verbosity: loud")
    text = text.replace("exporters: [file, debug]", "exporters: [file, file/missing]")
    cfg = _write(tmp_path, text)
    res = run_cli(["validate", "--config", str(cfg)])
    assert res.returncode == 1, res.stderr
    assert error_lines(res.stderr, cfg, line_of(text, "bogus_key"), "exporters.file.bogus_key")
    assert error_lines(res.stderr, cfg, line_of(text, "verbosity"), "exporters.debug.verbosity")
    assert error_lines(res.stderr, cfg, line_of(text, "file/missing"),
                       "service.pipelines.logs.exporters"), res.stderr


def test_yaml_syntax_error(otelite_bin, tmp_path):
    text = good_text(tmp_path).replace("verbosity: basic", "verbosity: [basic")
    cfg = _write(tmp_path, text)
    res = run_cli(["validate", "--config", str(cfg)])
    assert res.returncode == 1
    assert re.search(re.escape(str(cfg)) + r":\d+", res.stderr), res.stderr


def test_missing_config_file(otelite_bin, tmp_path):
    missing = tmp_path / "nope.yaml"
    for args in (["validate", "--config", str(missing)], ["--config", str(missing)]):
        res = run_cli(args, timeout=20)
        assert res.returncode == 1, res
        assert str(missing) in res.stderr


def test_validate_good_config(otelite_bin, tmp_path):
    cfg = _write(tmp_path, good_text(tmp_path))
    res = run_cli(["validate", "--config", str(cfg)])
    assert res.returncode == 0, res.stderr
    assert not [l for l in res.stderr.splitlines() if str(cfg) in l], res.stderr


def test_validate_file_scheme(otelite_bin, tmp_path):
    cfg = _write(tmp_path, good_text(tmp_path))
    assert run_cli(["validate", "--config", f"file:{cfg}"]).returncode == 0
    bad = _write(tmp_path, good_text(tmp_path).replace("verbosity: basic", "verbosity: loud"),
                 "bad.yaml")
    res = run_cli(["validate", "--config", f"file:{bad}"])
    assert res.returncode == 1
    assert error_lines(res.stderr, bad, line_of(bad.read_text(), "verbosity"),
                       "exporters.debug.verbosity"), res.stderr


def test_unused_components_are_warnings(otelite, tmp_path):
    ports, spare = Ports(), Ports()
    text = good_text(tmp_path, ports)
    text = insert_after(text, "endpoint: 127.0.0.1:%d" % ports.http,
                        "  otlp/unused:\n    protocols:\n      http:\n"
                        "        endpoint: 127.0.0.1:%d" % spare.http)
    text = insert_after(text, "verbosity: basic",
                        "  file/unused:\n    path: %s" % (tmp_path / "unused.jsonl"))
    cfg = _write(tmp_path, text, "unused.yaml")
    res = run_cli(["validate", "--config", str(cfg)])
    assert res.returncode == 0, res.stderr
    for cid, kind in (("otlp/unused", "receivers"), ("file/unused", "exporters")):
        lines = [l for l in res.stderr.splitlines() if f"{kind}.{cid}" in l]
        assert lines and "warn" in lines[0].lower(), f"no warning for {cid}:\n{res.stderr}"
        assert f"{cfg}:{line_of(text, cid + ':')}" in lines[0]
    # and it runs
    d = otelite(text, ports=ports)
    req, ids = make_trace_request(2)
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    wait_for_spans(tmp_path / "out.jsonl", ids)


def test_two_configs_merge(otelite, tmp_path):
    """Maps merge key by key, lists are replaced, the later file wins."""
    ports = Ports()
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    first = good_text(tmp_path, ports, out=a)
    first = insert_after(first, "verbosity: basic", f"  file/b:\n    path: {b}")
    first = first.replace("      receivers: [otlp]\n      exporters: [file]\n    metrics:",
                          "      receivers: [otlp]\n      exporters: [file, file/b]\n    metrics:")
    second = ("exporters:\n"
              "  file:\n"
              f"    path: {c}\n"
              "service:\n"
              "  pipelines:\n"
              "    traces:\n"
              "      exporters: [file]\n")
    f1, f2 = _write(tmp_path, first, "first.yaml"), _write(tmp_path, second, "second.yaml")
    assert run_cli(["validate", "--config", str(f1), "--config", str(f2)]).returncode == 0
    d = otelite(None, ports=ports, args=["--config", str(f1), "--config", f"file:{f2}"])
    req, ids = make_trace_request(3)
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    wait_for_spans(c, ids)
    d.stop()
    assert sorted(s["spanId"] for _, _, s in json_spans(read_records(c))) == sorted(ids)
    assert not json_spans(read_records(a)), "the first file's path was overridden"
    assert not json_spans(read_records(b)), "the traces exporter list was replaced, not merged"


def test_run_with_file_scheme(otelite, tmp_path):
    ports = Ports()
    cfg = _write(tmp_path, good_text(tmp_path, ports), "scheme.yaml")
    d = otelite(None, ports=ports, args=["--config", f"file:{cfg}"])
    req, ids = make_trace_request(2)
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    wait_for_spans(tmp_path / "out.jsonl", ids)


def test_env_expansion(otelite, tmp_path):
    ports = Ports()
    out = tmp_path / "from-env.jsonl"
    text = good_text(tmp_path, ports)
    text = text.replace(f"path: {tmp_path / 'out.jsonl'}", "path: ${env:OTELITE_IT_OUT}")
    text = text.replace(f"endpoint: 127.0.0.1:{ports.health}",
                        "endpoint: ${env:OTELITE_IT_UNSET_VAR:-127.0.0.1:%d}" % ports.health)
    text = text.replace(f"endpoint: 127.0.0.1:{ports.http}",
                        "endpoint: 127.0.0.1:${env:OTELITE_IT_HTTP_PORT}")
    assert "${env:OTELITE_IT_OUT}" in text and "OTELITE_IT_UNSET_VAR" in text
    env = {"OTELITE_IT_OUT": str(out), "OTELITE_IT_HTTP_PORT": str(ports.http)}
    import os

    os.environ.pop("OTELITE_IT_UNSET_VAR", None)
    d = otelite(text, ports=ports, env=env)
    req, ids = make_trace_request(2)
    assert post_proto(d, "traces", req.SerializeToString()).status_code == 200
    wait_for_spans(out, ids)
    # and a default is not used when the variable is set
    other = Ports()
    env2 = {**env, "OTELITE_IT_UNSET_VAR": f"127.0.0.1:{other.health}",
            "OTELITE_IT_OUT": str(tmp_path / "second.jsonl"),
            "OTELITE_IT_HTTP_PORT": str(other.http)}
    text2 = (text.replace(f"127.0.0.1:{ports.grpc}", f"127.0.0.1:{other.grpc}")
             .replace(f"127.0.0.1:{ports.metrics}", f"127.0.0.1:{other.metrics}"))
    d2 = otelite(text2, ports=other, env=env2, name="second")
    assert requests.get(d2.health_url(), timeout=5).status_code == 200


def test_components(otelite_bin):
    res = run_cli(["components"])
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for word in ("receivers", "exporters", "extensions", "otlp", "file", "debug", "health_check"):
        assert re.search(rf"\b{word}\b", out), f"{word!r} missing from:\n{out}"
    # each type is listed under its own kind
    kinds = ("receivers", "processors", "exporters", "extensions", "connectors")
    listed: dict = {k: "" for k in kinds}
    current = None
    for line in out.splitlines():
        m = re.match(r"^\s*-?\s*(%s)\s*:?\s*(.*)$" % "|".join(kinds), line, re.I)
        if m and not line.startswith((" ", "\t")) or (m and current is None):
            current = m.group(1).lower()
            listed[current] += " " + m.group(2)
        elif current:
            listed[current] += " " + line
    assert re.search(r"\botlp\b", listed["receivers"]), listed
    assert re.search(r"\bfile\b", listed["exporters"]), listed
    assert re.search(r"\bdebug\b", listed["exporters"]), listed
    assert re.search(r"\bhealth_check\b", listed["extensions"]), listed
    assert "health_check" not in listed["receivers"] + listed["exporters"], listed


def test_version(otelite_bin):
    res = run_cli(["--version"])
    assert res.returncode == 0, res.stderr
    m = re.search(r"project\(otelite VERSION ([0-9.]+)",
                  (REPO_ROOT / "CMakeLists.txt").read_text())
    assert m and m.group(1) in res.stdout + res.stderr, (res.stdout, res.stderr)


def test_command_line_mistakes_exit_1(otelite_bin, tmp_path):
    res = run_cli(["--no-such-flag"])
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "--no-such-flag" in res.stderr
    res = run_cli(["validate", "--config", str(tmp_path)])
    assert res.returncode == 1
    assert f"{tmp_path}: is a directory" in res.stderr, res.stderr


def test_validate_default_config(otelite_bin, tmp_path):
    """No --config: the embedded default config validates (not started: its ports are the
    well-known 4317/4318/8888/13133, which may be busy on this machine)."""
    res = run_cli(["validate"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_port_in_use_by_another_process(otelite_bin, tmp_path):
    """A receiver port already taken by some other process: otelite exits 1 at startup and
    says which endpoint it could not listen on."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = Ports()
        text = good_text(tmp_path, ports).replace(f"127.0.0.1:{ports.grpc}", f"127.0.0.1:{port}")
        cfg = _write(tmp_path, text)
        res = run_cli(["--config", str(cfg)], timeout=30)
    assert res.returncode == 1, res.stderr
    assert f"127.0.0.1:{port}" in res.stderr, res.stderr


def test_errors_name_the_file_that_set_the_value(otelite_bin, tmp_path):
    """With several --config files, an error points into the file (and line) the bad value
    came from; a value from ${env:...} is reported at the line that used the variable."""
    first = good_text(tmp_path).replace("flush_interval: 100ms", "flush_interval: ${env:OTELITE_IT_FI}")
    second = "exporters:\n  debug:\n    verbosity: loud\n"
    f1, f2 = _write(tmp_path, first, "first.yaml"), _write(tmp_path, second, "second.yaml")
    res = run_cli(["validate", "--config", str(f1), "--config", str(f2)],
                  env={"OTELITE_IT_FI": "soon"})
    assert res.returncode == 1, res.stderr
    assert error_lines(res.stderr, f2, 3, "exporters.debug.verbosity"), res.stderr
    assert error_lines(res.stderr, f1, line_of(first, "flush_interval"),
                       "exporters.file.flush_interval"), res.stderr
    assert not error_lines(res.stderr, f1, line_of(first, "verbosity"), "exporters.debug.verbosity")
