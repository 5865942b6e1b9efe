"""The ceiling of the HTTP layer: the same ASGI stack (FastAPI on uvicorn), no work."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/v1/webhooks/{source}")
async def webhook(source: str, request: Request) -> Response:
    await request.body()
    return Response(b'{"status":"accepted"}', status_code=202, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
