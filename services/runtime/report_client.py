"""A client of the classifier's report API, for `partnerpulse report`, the alerts
service (the reviews it mails) and the demo: ask the running classifier for reports.

The classifier holds the client states; the command asks
`GET /v1/clients/{id}/report[.pdf]` with an API token (scope read): the one given, or
the local token `partnerpulse up` keeps in the data dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from services.runtime.auth import bearer


class ReportFetchError(RuntimeError):
    """The classifier could not be asked (`status` None), or refused (its HTTP status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ReportClient:
    def __init__(self, base_url: str, token: str | None, *, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = bearer(token) if token else {}
        self.http = httpx.Client(timeout=timeout, trust_env=False, headers=headers)

    def __enter__(self) -> ReportClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            response = self.http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ReportFetchError(
                f"cannot reach the classifier at {self.base_url} ({exc}); is `partnerpulse up` "
                "running? (--classifier-url names another)"
            ) from None
        if response.status_code in (401, 403):
            raise ReportFetchError(
                f"{url}: {response.status_code}; give an API token with scope read "
                "(--token or PARTNERPULSE_API_TOKEN; `up` keeps one in <data dir>/api-token)",
                response.status_code,
            )
        if response.status_code != 200:
            raise ReportFetchError(
                f"{url}: {response.status_code} {_error_of(response)}", response.status_code
            )
        return response

    def clients(self) -> list[str]:
        rows: list[dict[str, Any]] = self._get("/v1/clients").json()
        return [row["client_id"] for row in rows]

    def report(self, client_id: str, period: dict[str, str], fmt: str) -> bytes:
        suffix = ".pdf" if fmt == "pdf" else ""
        return self._get(f"/v1/clients/{client_id}/report{suffix}", period).content


def _error_of(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text[:200]))
    except ValueError:
        return response.text[:200]


def output_path(out: Path | None, client_id: str, label: str, fmt: str, *, many: bool) -> Path:
    """Where one report goes: `out` itself for one report, a file in the folder `out`
    for --all (default: the current folder)."""
    name = f"{client_id}-{label.replace(' ', '_')}.{fmt}"
    if many or out is None:
        return (out or Path(".")) / name
    return out
