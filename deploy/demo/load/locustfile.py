"""Load for the demo: users log in, list and create items through app (A).

Run by evaluate.py (headless, in the one-machine setup's client namespace), or by hand:

    locust -f deploy/demo/load/locustfile.py --headless --host http://APP:8080 ...

Environment:
- DEMO_APP_URLS: comma-separated app replicas; user k talks to replica k mod N (default: --host)
- DEMO_STAGES: the load shape, JSON [[until_s, users, spawn_rate], ...]; without it, Locust's own
  -u/-r/--run-time apply
- DEMO_RATE: requests per second per user (default 2; constant throughput pacing); 0 means no
  pauses at all (each user sends its next request as soon as the last one is answered)
- DEMO_TEST_ID: when set, the first user sends one `GET /items` with the header `test-id: <value>`
  (the trace-completeness check finds that request's trace by it)
- DEMO_LEDGER: a CSV file that gets one line per request: start (unix s), name, response time
  (ms), status code (0 when no answer), error. It is the "sent" side of the evaluation: every
  request Locust made, answered or not.
- DEMO_TIMEOUT_S: per-request timeout (default 10)

Each task makes exactly one request, so a graceful stop (--stop-timeout) never cuts a task short
between requests.
"""
from __future__ import annotations

import csv
import itertools
import json
import os
import threading
import time

from locust import HttpUser, LoadTestShape, constant, constant_throughput, events, task

USERS = [("alice", "wonderland"), ("bob", "builder")]
APP_URLS = [u.strip().rstrip("/") for u in os.environ.get("DEMO_APP_URLS", "").split(",")
            if u.strip()]
RATE = float(os.environ.get("DEMO_RATE", "2"))
TIMEOUT_S = float(os.environ.get("DEMO_TIMEOUT_S", "10"))
TEST_ID = os.environ.get("DEMO_TEST_ID", "")

_user_numbers = itertools.count()
_test_id_sent = threading.Event()


class _Ledger:
    def __init__(self, path: str) -> None:
        self.file = open(path, "a", newline="", buffering=1)  # noqa: SIM115 - closed at quit
        self.writer = csv.writer(self.file)

    def write(self, row) -> None:
        self.writer.writerow(row)

    def close(self) -> None:
        self.file.close()


_ledger = _Ledger(os.environ["DEMO_LEDGER"]) if os.environ.get("DEMO_LEDGER") else None


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None,
            start_time=None, **_kw):
    if _ledger is None:
        return
    status = getattr(response, "status_code", 0) or 0
    err = "" if exception is None else type(exception).__name__
    _ledger.write([f"{start_time or time.time():.6f}", name, f"{response_time:.3f}", status, err])


@events.quitting.add_listener
def _close(**_kw):
    if _ledger is not None:
        _ledger.close()


class DemoUser(HttpUser):
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)

    def on_start(self) -> None:
        n = next(_user_numbers)
        if APP_URLS:
            self.client.base_url = APP_URLS[n % len(APP_URLS)]
        self.username, self.password = USERS[n % len(USERS)]
        self.token = None
        self.login()
        if TEST_ID and self.token and not _test_id_sent.is_set():
            _test_id_sent.set()
            self.client.get("/items", name="GET /items", timeout=TIMEOUT_S,
                            headers={**self.auth(), "test-id": TEST_ID})

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @task(1)
    def login(self) -> None:
        with self.client.post("/login", name="POST /login", timeout=TIMEOUT_S,
                              json={"username": self.username, "password": self.password},
                              catch_response=True) as r:
            if r.status_code == 200:
                self.token = r.json()["access_token"]
                r.success()
            else:
                r.failure(f"status {r.status_code}")

    @task(3)
    def list_items(self) -> None:
        if not self.token:
            self.login()
            return
        self.client.get("/items", name="GET /items", headers=self.auth(), timeout=TIMEOUT_S)

    @task(1)
    def create_item(self) -> None:
        if not self.token:
            self.login()
            return
        self.client.post("/items", name="POST /items", headers=self.auth(), timeout=TIMEOUT_S,
                         json={"name": f"item-{int(time.time() * 1000) % 100000}"})


if os.environ.get("DEMO_STAGES"):
    class StagedShape(LoadTestShape):
        """Users over time from DEMO_STAGES: [[until_s, users, spawn_rate], ...]."""

        stages = json.loads(os.environ["DEMO_STAGES"])

        def tick(self):
            t = self.get_run_time()
            for until, users, rate in self.stages:
                if t < until:
                    return int(users), float(rate)
            return None
