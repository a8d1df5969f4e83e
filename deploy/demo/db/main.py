"""db (service C): persistence of items in SQLite, with latency and error injection.

GET  /items?owner=NAME          -> [{"id", "owner", "name", "created_at"}]
POST /items {"owner", "name"}   -> 201 {"id", "owner", "name", "created_at"}
GET  /admin/faults              -> the faults in force
POST /admin/faults {"delay_ms", "jitter_ms", "error_rate"}  -> replaces them (missing = 0)
GET  /healthz, /readyz (the database answers a query)

Every SQL statement runs in a span (db.system=sqlite, db.statement, db.operation, ...). A fault
delays the statement inside that span (delay_ms plus or minus up to jitter_ms) and, with
probability error_rate, fails it: the span records the error and the request is answered 500.

The admin endpoint has no authentication: it is for the demo, reachable inside the cluster only
(the Ingress routes to app alone). Environment: DB_PATH (default items.db).
"""
from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, Field

from common import telemetry

DB_PATH = os.environ.get("DB_PATH", "items.db")


class Faults(BaseModel):
    delay_ms: int = Field(default=0, ge=0, le=60_000)
    jitter_ms: int = Field(default=0, ge=0, le=60_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class NewItem(BaseModel):
    owner: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


_faults = Faults()
_faults_lock = threading.Lock()


class InjectedFault(sqlite3.OperationalError):
    """The error raised by error injection (a sqlite3 error, as a real failure would be)."""


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(DB_PATH, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def _init_db() -> None:
    with _connect() as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS items ("
                     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                     " owner TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL)")
        conn.execute("CREATE INDEX IF NOT EXISTS items_owner ON items(owner)")
    conn.close()


@asynccontextmanager
async def lifespan(_app: FastAPI):
    _init_db()
    log.info("database ready at %s", DB_PATH)
    yield
    tel.shutdown()


app = FastAPI(title="otelite demo: db", lifespan=lifespan)
tel = telemetry.setup("db", app)
log = tel.logger


def _query(operation: str, statement: str, params: tuple, user: str) -> list[sqlite3.Row]:
    """Runs one SQL statement in its own span, applying the faults in force."""
    with _faults_lock:
        faults = _faults.model_copy()
    attributes = {
        "db.system": "sqlite",
        "db.name": os.path.basename(DB_PATH),
        "db.operation": operation,
        "db.sql.table": "items",
        "db.statement": statement,
        "enduser.id": user,
    }
    with tel.tracer.start_as_current_span(f"{operation} items", kind=SpanKind.CLIENT,
                                          attributes=attributes) as span:
        if faults.delay_ms or faults.jitter_ms:
            delay = max(0.0, faults.delay_ms + random.uniform(-faults.jitter_ms, faults.jitter_ms))
            span.set_attribute("fault.delay_ms", round(delay, 3))
            time.sleep(delay / 1000.0)
        if faults.error_rate and random.random() < faults.error_rate:
            span.set_attribute("fault.injected", True)
            # Leaves the span through the exception: the SDK records it and sets status ERROR.
            raise InjectedFault("injected fault: database is locked")
        conn = _connect()
        try:
            with conn:  # commits on success
                rows = conn.execute(statement, params).fetchall()
        finally:
            conn.close()
        span.set_attribute("db.response.returned_rows", len(rows))
        return rows


def _db_error(exc: sqlite3.Error) -> JSONResponse:
    log.error("query failed: %s", exc)
    return JSONResponse(status_code=500, content={"detail": f"database error: {exc}"})


@app.get("/items")
def list_items(owner: str):
    try:
        rows = _query("SELECT", "SELECT id, owner, name, created_at FROM items WHERE owner = ? "
                      "ORDER BY id", (owner,), owner)
    except sqlite3.Error as exc:
        return _db_error(exc)
    log.info("listed %d items of %s", len(rows), owner)
    return [dict(r) for r in rows]


@app.post("/items", status_code=201)
def create_item(item: NewItem):
    created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    try:
        rows = _query("INSERT", "INSERT INTO items (owner, name, created_at) VALUES (?, ?, ?) "
                      "RETURNING id, owner, name, created_at",
                      (item.owner, item.name, created_at), item.owner)
    except sqlite3.Error as exc:
        return _db_error(exc)
    log.info("inserted item %d for %s", rows[0]["id"], item.owner)
    return dict(rows[0])


@app.get("/admin/faults")
def get_faults():
    with _faults_lock:
        return _faults.model_dump()


@app.post("/admin/faults")
def set_faults(faults: Faults):
    global _faults
    with _faults_lock:
        _faults = faults
    log.warning("faults set: %s", faults.model_dump())
    return faults.model_dump()


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/readyz")
def readyz():
    try:
        conn = _connect()
        try:
            conn.execute("SELECT count(*) FROM items").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise HTTPException(status_code=503, detail=f"database not ready: {exc}") from None
    return {"status": "ready"}
