"""Entry point shared by the services: `python -m app|auth|db` runs uvicorn on $HOST:$PORT."""
from __future__ import annotations

import os

import uvicorn


def run(app_path: str, default_port: int) -> None:
    uvicorn.run(
        app_path,
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", str(default_port))),
        log_level=os.environ.get("UVICORN_LOG_LEVEL", "info"),
        # Finish requests in flight within the pod's grace period, leaving time to flush telemetry.
        timeout_graceful_shutdown=int(os.environ.get("GRACEFUL_SHUTDOWN_S", "15")),
        proxy_headers=False,
    )
