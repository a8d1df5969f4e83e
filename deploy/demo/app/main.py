"""app (service A): the public API of the demo.

POST /login  {"username", "password"}  -> asks auth for a JWT: {"access_token", ...} or 401
GET  /items                             -> the caller's items (Authorization: Bearer <jwt>)
POST /items  {"name"}                   -> 201 the new item
GET  /healthz (liveness), /readyz (auth and db are ready)

Every call to auth and db carries the W3C trace context and baggage (`traceparent`, `baggage`),
so a `tenant` baggage entry set by a caller travels app -> auth -> db and lands on their spans.
Errors: auth unreachable -> 503; db unreachable -> 503; db failing (5xx) -> 502.

Environment: AUTH_URL (default http://localhost:8081), DB_URL (default http://localhost:8082),
UPSTREAM_TIMEOUT_S (default 5).
"""
from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from pydantic import BaseModel, Field

from common import telemetry

AUTH_URL = os.environ.get("AUTH_URL", "http://localhost:8081").rstrip("/")
DB_URL = os.environ.get("DB_URL", "http://localhost:8082").rstrip("/")
TIMEOUT_S = float(os.environ.get("UPSTREAM_TIMEOUT_S", "5"))


class Clients:
    upstream: httpx.AsyncClient  # traced: business calls to auth and db
    probe: httpx.AsyncClient  # not traced: readiness checks


clients = Clients()


@asynccontextmanager
async def lifespan(_app: FastAPI):
    clients.upstream = httpx.AsyncClient(timeout=TIMEOUT_S)
    HTTPXClientInstrumentor.instrument_client(clients.upstream,
                                              tracer_provider=tel.tracer_provider)
    clients.probe = httpx.AsyncClient(timeout=1.0)
    yield
    await clients.upstream.aclose()
    await clients.probe.aclose()
    tel.shutdown()


app = FastAPI(title="otelite demo: app", lifespan=lifespan)
tel = telemetry.setup("app", app)
log = tel.logger


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(max_length=200)


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=200)


async def _call(service: str, method: str, url: str, **kwargs) -> httpx.Response:
    try:
        return await clients.upstream.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.error("%s unreachable: %s", service, exc)
        raise HTTPException(status_code=503, detail=f"{service} unavailable") from None


async def _check_token(authorization: str | None) -> str:
    """Asks auth whether the bearer token is valid; returns the user id."""
    with tel.tracer.start_as_current_span("check token") as span:
        if not authorization:
            span.set_attribute("auth.result", "missing")
            raise HTTPException(status_code=401, detail="missing bearer token")
        r = await _call("auth", "POST", f"{AUTH_URL}/validate",
                        headers={"Authorization": authorization})
        if r.status_code == 401:
            span.set_attribute("auth.result", "invalid")
            raise HTTPException(status_code=401, detail="invalid token")
        if r.status_code != 200:
            raise HTTPException(status_code=502, detail=f"auth answered {r.status_code}")
        user = r.json()["sub"]
        span.set_attribute("auth.result", "valid")
        span.set_attribute("enduser.id", user)
        return user


def _from_db(r: httpx.Response, user: str, what: str):
    if r.status_code >= 500:
        log.error("db failed to %s for %s: %s %s", what, user, r.status_code, r.text[:200])
        raise HTTPException(status_code=502, detail=f"db failed: {r.status_code}")
    if r.status_code >= 400:
        raise HTTPException(status_code=502, detail=f"db refused the request: {r.status_code}")
    return r.json()


@app.post("/login")
async def login(creds: Credentials):
    r = await _call("auth", "POST", f"{AUTH_URL}/token", json=creds.model_dump())
    if r.status_code == 401:
        log.warning("login failed for %s", creds.username)
        raise HTTPException(status_code=401, detail="invalid username or password")
    if r.status_code != 200:
        raise HTTPException(status_code=502, detail=f"auth answered {r.status_code}")
    log.info("login ok for %s", creds.username)
    return r.json()


@app.get("/items")
async def list_items(authorization: str | None = Header(default=None)):
    user = await _check_token(authorization)
    items = _from_db(await _call("db", "GET", f"{DB_URL}/items", params={"owner": user}),
                     user, "list items")
    log.info("listed %d items for %s", len(items), user)
    return items


@app.post("/items", status_code=201)
async def create_item(item: NewItem, authorization: str | None = Header(default=None)):
    user = await _check_token(authorization)
    created = _from_db(await _call("db", "POST", f"{DB_URL}/items",
                                   json={"owner": user, "name": item.name}), user, "create item")
    log.info("created item %s for %s", created.get("id"), user)
    return created


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/readyz")
async def readyz():
    async def ready(name: str, url: str) -> tuple[str, str]:
        try:
            r = await clients.probe.get(f"{url}/readyz")
            return name, "ready" if r.status_code == 200 else f"not ready ({r.status_code})"
        except httpx.HTTPError as exc:
            return name, f"unreachable ({type(exc).__name__})"

    checks = dict(await asyncio.gather(ready("auth", AUTH_URL), ready("db", DB_URL)))
    ok = all(v == "ready" for v in checks.values())
    return JSONResponse(status_code=200 if ok else 503,
                        content={"status": "ready" if ok else "not ready", "checks": checks})
