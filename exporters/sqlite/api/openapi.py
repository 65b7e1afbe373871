"""The OpenAPI 3 document of the query API (served at ``GET /api/openapi.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_NUMBER = {
    "oneOf": [
        {"type": "number"},
        {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
    ],
    "description": "A number; NaN and ±infinity as the strings NaN, Infinity, -Infinity.",
}
_NULLABLE_INT = {"type": "integer", "nullable": True}
_NULLABLE_STR = {"type": "string", "nullable": True}
_RUN_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "experiment": {"type": "string"},
    "group": _NULLABLE_STR,
    "status": {
        "type": "string",
        "enum": ["running", "completed", "failed", "killed", "crashed"],
    },
    "start_time": {**_NULLABLE_INT, "description": "ns since the epoch"},
    "end_time": _NULLABLE_INT,
    "started_at": {**_NULLABLE_STR, "description": "ISO 8601 UTC"},
    "ended_at": _NULLABLE_STR,
    "duration_s": {"type": "number", "nullable": True},
    "last_seen": _NULLABLE_INT,
    "host": _NULLABLE_STR,
    "world_size": {"type": "integer"},
    "git": {"type": "object", "nullable": True},
    "exit_code": _NULLABLE_INT,
    "exception": {"type": "object", "nullable": True},
    "tags": {"type": "object"},
    "labels": {"type": "array", "items": {"type": "string"}},
}
_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Run": {"type": "object", "required": list(_RUN_PROPERTIES), "properties": _RUN_PROPERTIES},
    "RunList": {
        "type": "object",
        "required": ["runs", "total", "limit", "offset"],
        "properties": {
            "runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
            "total": {"type": "integer"},
            "limit": _NULLABLE_INT,
            "offset": {"type": "integer"},
        },
    },
    "MetricSummary": {
        "type": "object",
        "properties": {
            "last": _NUMBER,
            "step": _NULLABLE_INT,
            "time": {"type": "integer"},
            "min": {**_NUMBER, "nullable": True},
            "max": {**_NUMBER, "nullable": True},
            "best": {**_NUMBER, "nullable": True},
            "goal": {"type": "string", "nullable": True, "enum": ["min", "max", None]},
            "count": {"type": "integer"},
            "nan_count": {"type": "integer"},
        },
    },
    "RunDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/Run"},
            {
                "type": "object",
                "required": ["params", "summary", "metrics", "ranks", "details"],
                "properties": {
                    "params": {"type": "object", "description": "nested config, dotted keys"},
                    "summary": {
                        "type": "object",
                        "description": "explicit summary, else each metric's last value",
                    },
                    "metrics": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/MetricSummary"},
                    },
                    "ranks": {"type": "array", "items": {"type": "object"}},
                    "details": {"type": "object"},
                },
            },
        ]
    },
    "Series": {
        "type": "object",
        "required": [
            "key",
            "attributes",
            "source",
            "unit",
            "total",
            "downsampled",
            "step",
            "time",
            "value",
        ],
        "properties": {
            "key": {"type": "string"},
            "attributes": {"type": "object"},
            "source": {"type": "string", "enum": ["logged", "system"]},
            "unit": {"type": "string"},
            "total": {"type": "integer", "description": "points in range before downsampling"},
            "downsampled": {"type": "boolean"},
            "step": {"type": "array", "items": _NULLABLE_INT},
            "time": {"type": "array", "items": {"type": "integer"}},
            "value": {"type": "array", "items": _NUMBER},
        },
    },
    "Metrics": {
        "type": "object",
        "required": ["run_id", "metrics"],
        "properties": {
            "run_id": {"type": "string"},
            "metrics": {"type": "array", "items": {"$ref": "#/components/schemas/Series"}},
        },
    },
    "HistogramSeries": {
        "type": "object",
        "required": ["key", "attributes", "source", "unit", "type", "total", "points"],
        "properties": {
            "key": {"type": "string"},
            "attributes": {"type": "object"},
            "source": {"type": "string", "enum": ["logged", "system"]},
            "unit": {"type": "string"},
            "type": {
                "type": "string",
                "enum": ["histogram", "exponential_histogram", "summary"],
            },
            "total": {"type": "integer", "description": "points in range before limit"},
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "bounds/counts (histogram), scale/zero_count/positive/"
                    "negative (exponential_histogram) or quantiles (summary) besides these",
                    "required": ["step", "time", "count", "sum", "min", "max"],
                    "properties": {
                        "step": _NULLABLE_INT,
                        "time": {"type": "integer"},
                        "count": {"type": "integer"},
                        "sum": {**_NUMBER, "nullable": True},
                        "min": {**_NUMBER, "nullable": True},
                        "max": {**_NUMBER, "nullable": True},
                    },
                },
            },
        },
    },
    "Histograms": {
        "type": "object",
        "required": ["run_id", "histograms"],
        "properties": {
            "run_id": {"type": "string"},
            "histograms": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/HistogramSeries"},
            },
        },
    },
    "Artifact": {
        "type": "object",
        "required": ["name", "kind", "sha256", "size", "mime_type", "time", "created_at"],
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "sha256": {"type": "string"},
            "size": {"type": "integer"},
            "mime_type": {"type": "string"},
            "time": {"type": "integer"},
            "created_at": _NULLABLE_STR,
        },
    },
    "Artifacts": {
        "type": "object",
        "required": ["run_id", "artifacts"],
        "properties": {
            "run_id": {"type": "string"},
            "artifacts": {"type": "array", "items": {"$ref": "#/components/schemas/Artifact"}},
        },
    },
    "Event": {
        "type": "object",
        "required": ["id", "name", "time", "severity", "severity_text", "body", "attributes"],
        "properties": {
            "id": {"type": "string"},
            "name": _NULLABLE_STR,
            "time": {"type": "integer"},
            "severity": {"type": "integer"},
            "severity_text": {"type": "string"},
            "body": {"nullable": True},
            "attributes": {"type": "object"},
        },
    },
    "Events": {
        "type": "object",
        "required": ["run_id", "events", "next_after"],
        "properties": {
            "run_id": {"type": "string"},
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
            "next_after": _NULLABLE_INT,
        },
    },
}


_SSE_EVENT = {
    "type": "object",
    "description": "One server-sent event; data is JSON: a Run (run, end), {points} (metrics)"
    " or {events} (events); id is the cursor to resume after.",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["run", "metrics", "events", "end"]},
        "data": {"type": "string"},
        "id": {"type": "string"},
    },
}


def _param(name: str, kind: str, description: str, where: str = "query") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind}
    if kind == "integer":
        schema.update(minimum=-(2**63), maximum=2**63 - 1)
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
    }


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad input", 401: "missing or wrong read token", 404: "no such run or artifact"}
    return {
        str(code): {
            "description": text[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "200": {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


_RUN_ID = _param("run_id", "string", "run id, unique id prefix, or run name", "path")


def openapi_document() -> dict[str, Any]:
    """The document; it lists exactly the routes of :func:`..app.make_app` under /api."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "trainwire query API",
            "version": "1",
            "description": "Read runs, metrics, artifacts and events of a trainwire run store.",
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"readToken": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"readToken": []}],
        "paths": {
            "/api/runs": {
                "get": {
                    "summary": "List runs, newest first",
                    "parameters": [
                        _param("experiment", "string", "only this experiment"),
                        _param("status", "string", "running|completed|failed|killed|crashed"),
                        _param("tag", "string", "key=value, or key for any value"),
                        _param("label", "string", "runs that have this label"),
                        _param(
                            "where",
                            "string",
                            "filter, e.g. params.lr < 0.01 and summary.val_acc > 0.9",
                        ),
                        _param("sort", "string", "fields, '-' for descending: -summary.acc,name"),
                        _param("limit", "integer", "at most this many (0-10000)"),
                        _param("offset", "integer", "skip this many"),
                    ],
                    "responses": {**_ok("RunList", "the runs"), **_errors(400, 401)},
                }
            },
            "/api/runs/{run_id}": {
                "get": {
                    "summary": "One run with params, summary, metric summaries and ranks",
                    "parameters": [_RUN_ID],
                    "responses": {**_ok("RunDetail", "the run"), **_errors(400, 401, 404)},
                }
            },
            "/api/runs/{run_id}/metrics": {
                "get": {
                    "summary": "Metric series as columns, optionally downsampled",
                    "parameters": [
                        _RUN_ID,
                        _param("key", "string", "one metric (all when absent)"),
                        _param("from_step", "integer", "first step (inclusive)"),
                        _param("to_step", "integer", "last step (inclusive)"),
                        _param(
                            "max_points",
                            "integer",
                            "downsample to about this many points (first/min/max/last per bucket)",
                        ),
                        _param("limit", "integer", "only the first this many points"),
                    ],
                    "responses": {**_ok("Metrics", "the series"), **_errors(400, 401, 404)},
                }
            },
            "/api/runs/{run_id}/histograms": {
                "get": {
                    "summary": "Distributions: log_histogram, OpenTelemetry histograms, summaries",
                    "parameters": [
                        _RUN_ID,
                        _param("key", "string", "one name (all when absent)"),
                        _param("from_step", "integer", "first step (inclusive)"),
                        _param("to_step", "integer", "last step (inclusive)"),
                        _param("limit", "integer", "only each series' first this many points"),
                    ],
                    "responses": {
                        **_ok("Histograms", "the distributions"),
                        **_errors(400, 401, 404),
                    },
                }
            },
            "/api/runs/{run_id}/artifacts": {
                "get": {
                    "summary": "The run's artifacts (latest version of each name)",
                    "parameters": [_RUN_ID],
                    "responses": {**_ok("Artifacts", "the artifacts"), **_errors(400, 401, 404)},
                }
            },
            "/api/runs/{run_id}/artifacts/{name}": {
                "get": {
                    "summary": "An artifact's bytes, checked against its sha256",
                    "parameters": [
                        _RUN_ID,
                        _param("name", "string", "artifact name (may contain '/')", "path"),
                    ],
                    "responses": {
                        "200": {
                            "description": "the bytes (Content-Type: the artifact's mime type)",
                            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                        },
                        **_errors(400, 401, 404),
                    },
                }
            },
            "/api/runs/{run_id}/events": {
                "get": {
                    "summary": "The run's events in time order",
                    "parameters": [
                        _RUN_ID,
                        _param("name", "string", "only this event name, e.g. ml.console"),
                        _param("after", "integer", "only events later than this (ns)"),
                        _param("limit", "integer", "at most this many (1-10000)"),
                    ],
                    "responses": {**_ok("Events", "the events"), **_errors(400, 401, 404)},
                }
            },
            "/api/runs/{run_id}/stream": {
                "get": {
                    "summary": "Live updates as server-sent events: run, metrics, events, end",
                    "parameters": [
                        _RUN_ID,
                        _param("after", "integer", "continue after this cursor (ns)"),
                        _param("interval_s", "string", "poll interval, 0.05-60 s"),
                    ],
                    "responses": {
                        "200": {
                            "description": "text/event-stream until the run ends",
                            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
                        },
                        **_errors(400, 401, 404),
                    },
                }
            },
        },
    }
