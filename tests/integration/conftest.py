"""Fixtures for the otelite integration suite: start the real daemon, stop it by its PID."""
from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

import harness
from harness import Otelite, Ports, base_config, otelite_binary


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def otelite_bin(tmp_path_factory) -> Path:
    """The built daemon, copied once per session so that a rebuild in the middle of a run
    (the build replaces build/otelite) cannot break the tests that follow."""
    path = otelite_binary()
    if not path.is_file():
        pytest.fail(f"otelite binary not found at {path}: build it (cmake --build build) "
                    f"or set OTELITE_BIN", pytrace=False)
    copy = tmp_path_factory.mktemp("bin") / "otelite"
    shutil.copy2(path, copy)
    harness.BINARY = copy
    return copy


class Launcher:
    """Starts otelite daemons; every one still running at teardown is stopped by its PID."""

    def __init__(self, binary: Path, tmp_path: Path) -> None:
        self.binary = binary
        self.tmp_path = tmp_path
        self.daemons: list[Otelite] = []

    def __call__(self, config: dict | str | None = None, *, ports: Ports | None = None,
                 name: str | None = None, args=None, env=None, wait: bool = True,
                 health_path: str = "/") -> Otelite:
        name = name or f"otelite{len(self.daemons)}"
        d = Otelite(self.binary, self.tmp_path, name, config, ports, args=args, env=env,
                    health_path=health_path)
        self.daemons.append(d)
        d.start(wait=wait)
        return d

    def default(self, *, flush_interval: str = "100ms", mutate=None, **kw) -> Otelite:
        """Starts the contract's example config; `mutate(cfg)` may edit it first."""
        ports = Ports()
        out = self.tmp_path / f"out{len(self.daemons) or ''}.jsonl"
        cfg = base_config(ports, out, flush_interval=flush_interval)
        if mutate:
            mutate(cfg)
        d = self(cfg, ports=ports, **kw)
        d.out = out  # type: ignore[attr-defined]
        return d

    def stop_all(self, show_logs: bool) -> list[str]:
        """SIGTERM to each daemon still running; returns the problems (unclean exits)."""
        problems = []
        for d in self.daemons:
            if d.proc is None:
                continue
            if d.proc.poll() is None:
                d.send_signal(signal.SIGTERM)
                try:
                    rc = d.wait_exit()
                except AssertionError as exc:
                    problems.append(str(exc))
                    continue
                if d.expect_clean_exit and rc != 0:
                    problems.append(f"{d.name} (pid {d.pid}) exited with {rc} on SIGTERM at teardown")
            if show_logs or problems:
                print(f"\n===== {d.name} (pid {d.pid}, rc {d.proc.returncode}) stderr =====")
                print(d.stderr()[-20000:])
        return problems


@pytest.fixture
def otelite(otelite_bin, tmp_path, request):
    """A launcher for daemons private to one test."""
    launcher = Launcher(otelite_bin, tmp_path)
    yield launcher
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    problems = launcher.stop_all(show_logs=failed)
    if problems and not failed:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_otelite(otelite_bin, tmp_path_factory, request):
    """A launcher for daemons shared by the tests of one module (fewer starts and stops)."""
    launcher = Launcher(otelite_bin, tmp_path_factory.mktemp(request.module.__name__))
    failed_before = request.session.testsfailed
    yield launcher
    problems = launcher.stop_all(show_logs=request.session.testsfailed > failed_before)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def prometheus(tmp_path, request):
    """Starts real Prometheus servers for one test: `prometheus(targets={...}, **kw)`; each is
    stopped by its PID at teardown (its log printed when the test failed)."""
    from prometheus_server import PrometheusServer

    servers: list = []

    def start(targets: dict, **kw):
        server = PrometheusServer(tmp_path, targets, name=f"prometheus{len(servers)}", **kw)
        servers.append(server)
        return server.start()

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for server in servers:
        server.stop()
        if failed:
            print(f"\n===== {server.name} (port {server.port}) log =====")
            print(server.log()[-10000:])
