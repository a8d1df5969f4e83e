"""The file_storage extension through the command line: its config errors carry file:line and
the YAML path, a missing directory fails the start naming the directory and the key, and a good
one starts and stops cleanly (creating its directory when asked to)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness import Ports, base_config, run_cli, to_yaml


def config_with_storage(tmp_path: Path, storage_yaml: str, in_service: bool = True) -> str:
    """The base config (otlp -> file) plus `extensions.file_storage/q` written as `storage_yaml`
    (lines indented under the id)."""
    cfg = base_config(Ports(), tmp_path / "out.jsonl")
    if in_service:
        cfg["service"]["extensions"].append("file_storage/q")
    text = to_yaml(cfg)
    block = "  file_storage/q:\n" + "".join(f"    {line}\n" for line in storage_yaml.splitlines())
    return text.replace("extensions:\n", "extensions:\n" + block, 1)


def line_of(text: str, needle: str) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(hits) == 1, f"{needle!r} found {len(hits)} times in:\n{text}"
    return hits[0]


@pytest.mark.parametrize("storage,needle,path,word", [
    ('create_directory: true\ndirectory_permissions: "0999"', "directory_permissions",
     "extensions.file_storage/q.directory_permissions", "octal"),
    ("compaction:\n  on_rebound: true\n  check_interval: 0s", "check_interval",
     "extensions.file_storage/q.compaction.check_interval", "positive"),
    ("compaction:\n  max_transaction_size: -5", "max_transaction_size",
     "extensions.file_storage/q.compaction.max_transaction_size", "at least 0"),
    ("timeout: soon", "timeout: soon", "extensions.file_storage/q.timeout", "duration"),
    ("fsync: sometimes", "fsync:", "extensions.file_storage/q.fsync", "boolean"),
    ("compaction:\n  on_startup: true", "on_startup",
     "extensions.file_storage/q.compaction.on_startup", "on_start"),
], ids=["permissions", "check-interval", "max-transaction-size", "timeout", "fsync",
        "unknown-key"])
def test_validate_reports_file_line_and_path(otelite_bin, tmp_path, storage, needle, path, word):
    text = config_with_storage(tmp_path, f"directory: {tmp_path}\n{storage}")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    res = run_cli(["validate", "--config", str(cfg)], timeout=10)
    assert res.returncode == 1, f"exit {res.returncode}\n{res.stderr}"
    want = f"{cfg}:{line_of(text, needle)}: {path}"
    lines = [l for l in res.stderr.splitlines() if want in l]
    assert lines, f"expected a line with {want!r} in:\n{res.stderr}"
    assert word in lines[0], lines[0]


def test_validate_accepts_every_documented_key(otelite_bin, tmp_path):
    storage = f"""directory: {tmp_path}/data
timeout: 2s
fsync: true
create_directory: true
directory_permissions: "0700"
recreate: false
compaction:
  directory: {tmp_path}/compaction
  on_start: true
  on_rebound: true
  rebound_needed_threshold_mib: 50
  rebound_trigger_threshold_mib: 5
  max_transaction_size: 1000
  check_interval: 10s
  cleanup_on_start: true"""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_with_storage(tmp_path, storage))
    res = run_cli(["validate", "--config", str(cfg)], timeout=10)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "data").exists(), "validate must not touch the filesystem"


def run_briefly(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    try:
        return run_cli(args, cwd=tmp_path, timeout=15)
    except subprocess.TimeoutExpired as exc:
        pytest.fail("otelite kept running although its storage directory is missing:\n"
                    f"{(exc.stderr or b'').decode(errors='replace')[-2000:]}")


def test_missing_directory_fails_the_start_naming_it_and_the_key(otelite_bin, tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_with_storage(tmp_path, f"directory: {missing}"))
    assert run_cli(["validate", "--config", str(cfg)], timeout=10).returncode == 0
    res = run_briefly(["--config", str(cfg)], tmp_path)
    assert res.returncode != 0, res.stderr
    assert re.search(r"extensions\.file_storage/q\.directory: directory \"" +
                     re.escape(str(missing)) + r"\" does not exist", res.stderr), res.stderr
    assert "create_directory" in res.stderr


def test_create_directory_makes_it_and_the_daemon_runs(otelite, tmp_path):
    data = tmp_path / "state" / "queue"

    def add_storage(cfg):
        cfg["extensions"]["file_storage/q"] = {
            "directory": str(data), "create_directory": True, "directory_permissions": "0700",
            "compaction": {"on_rebound": True, "check_interval": "50ms"}}
        cfg["service"]["extensions"].append("file_storage/q")

    d = otelite.default(mutate=add_storage)  # waits until healthy
    assert data.is_dir()
    assert data.stat().st_mode & 0o777 == 0o700
    assert d.running()
