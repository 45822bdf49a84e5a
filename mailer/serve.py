"""Run the RSVP web app under uvicorn for a workspace."""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn


def run_server(workspace: Path, host: str, port: int, workers: int = 1) -> None:
    """Serve `rsvp.app` for `workspace`; access logs stay off because URLs hold tokens."""
    os.environ["INVITE_WORKSPACE"] = str(workspace)
    uvicorn.run("rsvp.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, server_header=False, proxy_headers=True,
                log_level="info")
