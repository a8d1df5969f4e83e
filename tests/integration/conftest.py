"""Fixtures for the otelite integration suite: start the real daemon, stop it by its PID."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from harness import Otelite, Ports, base_config, otelite_binary


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def otelite_bin() -> Path:
    path = otelite_binary()
    if not path.is_file():
        pytest.fail(f"otelite binary not found at {path}: build it (cmake --build build) "
                    f"or set OTELITE_BIN", pytrace=False)
    return path


class Launcher:
    """Starts otelite daemons for one test; every one still running at teardown is stopped."""

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
        out = self.tmp_path / "out.jsonl"
        cfg = base_config(ports, out, flush_interval=flush_interval)
        if mutate:
            mutate(cfg)
        d = self(cfg, ports=ports, **kw)
        d.out = out  # type: ignore[attr-defined]
        return d


@pytest.fixture
def otelite(otelite_bin, tmp_path, request):
    launcher = Launcher(otelite_bin, tmp_path)
    yield launcher
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    problems = []
    for d in launcher.daemons:
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
        if failed or problems:
            print(f"\n===== {d.name} (pid {d.pid}, rc {d.proc.returncode}) stderr =====")
            print(d.stderr()[-20000:])
    if problems and not failed:
        pytest.fail("; ".join(problems), pytrace=False)
