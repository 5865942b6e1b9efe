"""The classifier's OpenAPI document, served at /openapi.json (scope `read`).

The classifier's API runs on faust's aiohttp web server, which writes no spec; this
one is written by hand and kept next to the views it describes (views.py). A test
(tests/fuzz/test_fuzz_http.py) checks every route here answers, and `make fuzz`
drives schemathesis from it.
"""

from __future__ import annotations

from typing import Any

from services.classifier.queries import MAX_DAYS, MAX_PROCESSED_IDS

_JSON_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_ERROR: dict[str, Any] = {
    "description": "Refused: the body says why",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
        }
    },
}
_UNAUTHORIZED: dict[str, Any] = {"description": "No token, or a token that matches no entry"}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the classifier's query and report API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "partnerpulse classifier",
            "version": "1",
            "summary": "Client health, signals and the work split; what has been processed.",
        },
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "API token"}
            }
        },
        "security": [{"token": []}],
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness",
                    "security": [],
                    "responses": {"200": _ok("Alive", _JSON_OBJECT)},
                }
            },
            "/v1/status": {
                "get": {
                    "operationId": "status",
                    "summary": "Watermark, processed counts and partitions of every worker",
                    "responses": {"200": _ok("Status", _JSON_OBJECT), "401": _UNAUTHORIZED},
                }
            },
            "/v1/clients": {
                "get": {
                    "operationId": "clients",
                    "summary": "Every client with its score, band and account lead",
                    "responses": {
                        "200": _ok("Clients", {"type": "array", "items": _JSON_OBJECT}),
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/v1/clients/{client_id}": {
                "get": {
                    "operationId": "client",
                    "summary": "One client: health, signals and the work split over `days`",
                    "parameters": [
                        {
                            "name": "client_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "days",
                            "in": "query",
                            "required": False,
                            "description": f"The report period, 1 to {MAX_DAYS} (default 90)",
                            "schema": {"type": "number", "minimum": 1, "maximum": MAX_DAYS},
                        },
                    ],
                    "responses": {
                        "200": _ok("The client", _JSON_OBJECT),
                        "400": _ERROR,
                        "401": _UNAUTHORIZED,
                        "404": _ERROR,
                    },
                }
            },
            "/v1/clients/{client_id}/daily": {
                "get": {
                    "operationId": "client_daily",
                    "summary": "One client's totals per event-time day, kept 400 days",
                    "parameters": [
                        {
                            "name": "client_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        *(
                            {
                                "name": name,
                                "in": "query",
                                "required": False,
                                "description": what,
                                "schema": {"type": "string", "format": "date"},
                            }
                            for name, what in (
                                ("from", "First day (default: 399 days before `to`)"),
                                ("to", "Last day (default: the day of the newest event)"),
                            )
                        ),
                    ],
                    "responses": {
                        "200": _ok(
                            "Hours, visits, tickets, alerts, evidence per day", _JSON_OBJECT
                        ),
                        "400": _ERROR,
                        "401": _UNAUTHORIZED,
                        "404": _ERROR,
                    },
                }
            },
            "/v1/processed": {
                "post": {
                    "operationId": "processed",
                    "summary": "Which of these event ids the classifier has processed",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["event_ids"],
                                    "properties": {
                                        "event_ids": {
                                            "type": "array",
                                            "maxItems": MAX_PROCESSED_IDS,
                                            "items": {"type": "string"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _ok(
                            "Counts and the ids not processed",
                            {
                                "type": "object",
                                "properties": {
                                    "processed": {"type": "integer"},
                                    "missing": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        ),
                        "400": _ERROR,
                        "401": _UNAUTHORIZED,
                        "413": _ERROR,
                    },
                }
            },
        },
    }
