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
