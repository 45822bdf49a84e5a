"""The yardstick for bench/web_answers.py: the least a FastAPI answer endpoint can do.

It verifies the same itsdangerous tokens as invite (same key and salt), reads the body
(a form for POST, JSON for PUT) and upserts one row through sqlite-utils, in `async def`
routes on the event loop; `GET /r/{token}` answers a fixed small page and nothing else.
The database uses the pragmas invite uses (WAL, synchronous NORMAL).

bench/web_answers.py starts it itself; by hand:

    BENCH_DB=/tmp/minimal.db BENCH_KEY=some-key-of-16-chars .venv/bin/python -m uvicorn \\
        --app-dir bench web_minimal:app --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import json
import os
import sqlite3

import sqlite_utils
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from itsdangerous import URLSafeTimedSerializer

SALT = "invite.answer"  # rsvp.tokens.ANSWER: the same links work on both apps
MAX_AGE = 366 * 24 * 3600
PAGE = "<!doctype html><html lang=en><title>RSVP</title><p>Hello</p></html>"


def open_db(path: str) -> sqlite_utils.Database:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    db = sqlite_utils.Database(conn)
    db.table("responses").create({"recipient_id": int, "attendance": str, "answers": str},
                           pk="recipient_id", if_not_exists=True)
    return db


db = open_db(os.environ["BENCH_DB"])
serializer = URLSafeTimedSerializer(os.environ["BENCH_KEY"], salt=SALT)
app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


def recipient_id(token: str) -> int:
    return int(serializer.loads(token, max_age=MAX_AGE)[0])


@app.post("/r/{token}")
async def answer_form(request: Request, token: str) -> Response:
    who = recipient_id(token)
    form = await request.form()
    answers = {"comment": str(form.get("comment", "")), "parts": form.getlist("parts")}
    db.table("responses").upsert({"recipient_id": who, "attendance": str(form.get("attendance")),
                            "answers": json.dumps(answers)}, pk="recipient_id")
    return HTMLResponse("<p>Recorded</p>")


@app.put("/api/responses/{token}")
async def answer_json(request: Request, token: str) -> Response:
    who = recipient_id(token)
    body = json.loads(await request.body())
    db.table("responses").upsert({"recipient_id": who, "attendance": str(body.get("attendance")),
                            "answers": json.dumps(body.get("answers", {}))}, pk="recipient_id")
    return JSONResponse({"attendance": body.get("attendance")})


@app.get("/r/{token}")
async def show(token: str) -> Response:
    return HTMLResponse(PAGE)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
