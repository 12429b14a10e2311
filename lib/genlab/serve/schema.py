"""The answers of the service as OpenAPI documents them: every route's bodies and status codes.

The OpenAPI document at /openapi.json is built from these, so a client generated from it (and the
schema fuzzer in tests/test_serve_fuzz.py) sees the answers the service really gives.
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: what went wrong and how to fix it; ``field`` names the bad field of a 422."""

    detail: Union[str, list[dict[str, Any]]] = Field(description="message, or pydantic's list of errors")
    field: str | None = Field(None, description="the request field at fault (422)")
    available: list[str] | None = Field(None, description="the loaded models (404)")


class HealthBody(BaseModel):
    status: str
    models: list[str]
    skipped: list[dict[str, str]]
    pool: dict[str, int]


class ModelsBody(BaseModel):
    models: list[dict[str, Any]] = Field(description="kind, dataset, classes, size, parameters, metrics, "
                                                     "sampler options of each loaded model")
    limits: dict[str, Any] = Field(description="max_n, max_steps, max_pixels, max_body_bytes, budget per kind")
    skipped: list[dict[str, str]]


class GenerateAnswer(BaseModel):
    model: str
    kind: str
    n: int
    seed: int
    labels: list[int] | None
    options: dict[str, Any]
    seconds: float
    width: int
    height: int
    images: list[str] = Field(description="one base64 PNG per image")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "no or wrong token (see WWW-Authenticate)", 404: "unknown model; the body lists the loaded ones",
            413: "request body too large", 422: "a bad field, named in 'field'",
            503: "all workers busy (retry after Retry-After seconds), or the work was abandoned"}
    out: dict[int | str, dict[str, Any]] = {c: {"model": ErrorBody, "description": text[c]} for c in codes}
    if 401 in out:
        out[401]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    if 503 in out:
        out[503]["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
    return out


GENERATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": GenerateAnswer, "description": "the images: JSON (output=json) or one PNG grid (output=png)",
          "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
          "headers": {"X-Generation-Seconds": {"schema": {"type": "string"}}}},
    **errors(401, 404, 413, 422, 503)}


OPTION_TYPES = {"int": "integer", "float": "number", "str": "string"}


def option_fields(models: list[Any]) -> dict[str, dict[str, Any]]:
    """The sampling options of the loaded models as body fields, each with the widest type, range and choices
    any model gives it (a model still refuses another model's options, with a 422)."""
    fields: dict[str, dict[str, Any]] = {}
    for model in models:
        for name, o in model.sampler_options().items():
            f = fields.setdefault(name, {"type": OPTION_TYPES[o.type.__name__], "description": o.help})
            if o.choices:
                f["enum"] = sorted(set(f.get("enum", [])) | set(o.choices))
            if o.low is not None:
                f["minimum"] = min(f.get("minimum", o.low), o.low)
            if o.high is not None:
                f["maximum"] = max(f.get("maximum", o.high), o.high)
    return fields


def with_loaded_models(app: Any, catalog: Any, max_n: int) -> None:
    """Make ``app``'s OpenAPI document name this server's models, their sampling options and its max_n in the
    request body (the body class cannot know them): clients and fuzzers then ask for what exists."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            body = build()["components"]["schemas"]["GenerateRequest"]
            body["properties"]["n"]["maximum"] = max_n
            if catalog.models:
                body["properties"]["model"]["anyOf"] = [{"type": "string", "enum": catalog.names()}, {"type": "null"}]
                body["properties"].update(option_fields([s.model for s in catalog.models.values()]))
                body["additionalProperties"] = False  # any other field is a 422
                body["examples"] = [{"model": name, "n": 1, "seed": 0, "output": ("json", "png")[i % 2]}
                                    for i, name in enumerate(catalog.names())]
        return app.openapi_schema

    app.openapi = openapi
