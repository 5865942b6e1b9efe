"""Posts a polled record to ingest's webhook route for its source, authenticated as that
vendor would (the `Signer` of `partnerpulse send`), so journal, dedupe, DLQ and metrics
apply to it exactly as to a webhook delivery."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import httpx

from services.ingest.sender import Signer
from services.poll.adapters.vendor import DEFAULT_RETRY, RetryPolicy, retry_after_seconds
from services.poll.domain.deliveries import Outgoing

log = logging.getLogger("partnerpulse.poll")


class Posted(StrEnum):
    new = "new"  # stored as new: the webhook had not delivered it
    duplicate = "duplicate"  # ingest already had this event id
    rejected = "rejected"  # 4xx: ingest sent the body to the DLQ with the reason


class IngestUnavailable(Exception):
    """Ingest did not take the record (down, full, or refusing our credentials): the run
    stops here and resumes from its checkpoint next time."""


class IngestPoster:
    def __init__(
        self,
        ingest_url: str,
        signer: Signer,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        receipts: Path | None = None,
    ) -> None:
        self._url = ingest_url.rstrip("/")
        self._receipts = receipts  # evaluation only: ingest's answers, as JSON lines
        self._receipts_lock = threading.Lock()
        self._signer = signer
        self._retry, self._sleep = retry, sleep
        self._http = httpx.Client(timeout=30, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def post(self, out: Outgoing) -> Posted:
        url = f"{self._url}/v1/webhooks/{out.route}"
        for attempt in range(1, self._retry.attempts + 1):
            headers = {
                "content-type": "application/json",
                **self._signer.headers(out.route, out.body),
            }
            try:
                response = self._http.post(url, content=out.body, headers=headers)
            except httpx.TransportError as exc:
                self._wait(attempt, None, f"ingest unreachable ({type(exc).__name__})")
                continue
            status = response.status_code
            if status in (200, 202):
                answer = _json_object(response)
                accepted = answer.get("accepted", 1 if status == 202 else 0)
                self._receipt(out, status, answer)
                return Posted.new if accepted else Posted.duplicate
            if status in (429, 503):
                wait = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
                self._wait(attempt, wait, f"ingest answered {status}")
                continue
            if status in (401, 403):
                raise IngestUnavailable(
                    f"ingest refused the {out.route} delivery's authentication ({status}): "
                    "check the tenant's webhooks section"
                )
            if 400 <= status < 500:
                self._receipt(out, status, _json_object(response))
                log.warning("%s: ingest rejected it (%s): %s", out.ref, status, response.text[:300])
                return Posted.rejected
            self._wait(attempt, None, f"ingest answered {status}")
        raise IngestUnavailable(f"ingest did not take {out.ref} after {self._retry.attempts} tries")

    def _receipt(self, out: Outgoing, status: int, answer: dict[str, object]) -> None:
        """One line per answered post, for `evaluate`'s accounting (no secrets: the body's
        digest, not the body or its signature)."""
        if self._receipts is None:
            return
        ids = answer.get("event_ids")
        line = {
            "ref": out.ref,
            "route": str(out.route),
            "status": status,
            "event_ids": [str(i) for i in ids] if isinstance(ids, list) else [],
            "accepted": int(answer.get("accepted") or 0),  # type: ignore[call-overload]
            "body_sha256": hashlib.sha256(out.body).hexdigest(),
            "error": None if status < 300 else str(answer.get("error") or "")[:300],
        }
        with self._receipts_lock, self._receipts.open("a", encoding="utf-8") as file:
            file.write(json.dumps(line, separators=(",", ":")) + "\n")

    def _wait(self, attempt: int, retry_after: float | None, reason: str) -> None:
        if attempt >= self._retry.attempts:
            return
        backoff = min(self._retry.backoff_seconds * 2 ** (attempt - 1), 30.0)
        wait = min(
            retry_after if retry_after is not None else backoff, self._retry.max_wait_seconds
        )
        log.warning("%s; retrying in %.1f s", reason, wait)
        self._sleep(wait)


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
