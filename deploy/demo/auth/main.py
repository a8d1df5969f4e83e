"""auth (service B): issues and validates stateless HS256 JWTs. No session state is kept.

POST /token     {"username", "password"} -> {"access_token", "token_type", "expires_in"} or 401
POST /validate  Authorization: Bearer <jwt> -> {"sub", "exp"} or 401
GET  /healthz, /readyz

Environment: AUTH_JWT_SECRET (required, at least 32 characters), AUTH_USERS
("name:password,..."; demo users), AUTH_TOKEN_TTL_S (default 3600), AUTH_ISSUER.
"""
from __future__ import annotations

import hmac
import os
import time
from contextlib import asynccontextmanager

import jwt
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

from common import telemetry

ALGORITHM = "HS256"
SECRET = os.environ.get("AUTH_JWT_SECRET", "")
if len(SECRET) < 32:
    raise RuntimeError("AUTH_JWT_SECRET must be set to a secret of at least 32 characters")
ISSUER = os.environ.get("AUTH_ISSUER", "otelite-demo-auth")
TOKEN_TTL_S = int(os.environ.get("AUTH_TOKEN_TTL_S", "3600"))


def _parse_users(text: str) -> dict[str, str]:
    users = {}
    for entry in text.split(","):
        name, sep, password = entry.strip().partition(":")
        if name and sep:
            users[name] = password
    return users


USERS = _parse_users(os.environ.get("AUTH_USERS", "alice:wonderland,bob:builder"))


@asynccontextmanager
async def lifespan(_app: FastAPI):
    yield
    tel.shutdown()


app = FastAPI(title="otelite demo: auth", lifespan=lifespan)
tel = telemetry.setup("auth", app)
log = tel.logger


class Credentials(BaseModel):
    username: str
    password: str


def _check_password(username: str, password: str) -> bool:
    expected = USERS.get(username)
    # compare_digest even for unknown users, so timing does not tell which names exist
    same = hmac.compare_digest((expected or "\0").encode(), password.encode())
    return same and expected is not None


@app.post("/token")
async def issue_token(creds: Credentials):
    with tel.tracer.start_as_current_span("jwt.issue") as span:
        span.set_attribute("enduser.id", creds.username)
        if not _check_password(creds.username, creds.password):
            span.set_attribute("auth.result", "denied")
            log.warning("login refused for user %s", creds.username)
            raise HTTPException(status_code=401, detail="invalid username or password")
        now = int(time.time())
        token = jwt.encode({"sub": creds.username, "iss": ISSUER, "iat": now,
                            "exp": now + TOKEN_TTL_S}, SECRET, algorithm=ALGORITHM)
        span.set_attribute("auth.result", "issued")
        log.info("token issued for user %s", creds.username)
        return {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_TTL_S}


@app.post("/validate")
async def validate_token(authorization: str | None = Header(default=None)):
    with tel.tracer.start_as_current_span("jwt.verify") as span:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            span.set_attribute("auth.result", "missing")
            raise HTTPException(status_code=401, detail="missing bearer token")
        try:
            claims = jwt.decode(token, SECRET, algorithms=[ALGORITHM], issuer=ISSUER,
                                options={"require": ["sub", "exp", "iat", "iss"]})
        except jwt.PyJWTError as exc:
            span.set_attribute("auth.result", "invalid")
            # An invalid token is the caller's error, not this span's failure: status stays unset.
            span.add_event("token rejected", {"reason": type(exc).__name__})
            log.warning("token rejected: %s", type(exc).__name__)
            raise HTTPException(status_code=401, detail="invalid token") from None
        span.set_attribute("auth.result", "valid")
        span.set_attribute("enduser.id", claims["sub"])
        log.info("token valid for user %s", claims["sub"])
        return {"sub": claims["sub"], "exp": claims["exp"]}


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/readyz")
async def readyz():
    # Stateless: ready as soon as it serves.
    return {"status": "ready"}

