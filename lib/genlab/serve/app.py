"""The FastAPI app: /health, /models, POST /generate (+ /generate/diffusion, /generate/ebm), the page at /.

Generation runs in a bounded :class:`~genlab.serve.pool.WorkerPool`; a full pool is a 503 with
``Retry-After``. Bad fields are 422s naming the field, unknown models 404s listing the loaded ones.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from . import auth
from .catalog import Catalog, Served
from .encode import base64_pngs, grid_png
from .limits import GenerateRequest, Limits, RequestError, check_request
from .pool import PoolFull, WorkerPool

PAGE = Path(__file__).parent / "page"
log = logging.getLogger("genlab.serve")


def error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)


def create_app(catalog: Catalog, limits: Limits = Limits(), workers: int = 2, queue: int = 4,
               token: str | None = None) -> FastAPI:
    """The app over ``catalog``'s models; ``token`` (when set) is required on every path but /health."""
    pool = WorkerPool(workers, queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown()  # uvicorn has already waited for in-flight requests; this joins the threads

    app = FastAPI(title="genlab generation service", lifespan=lifespan,
                  description="Images from the trained models under a runs folder (DCGAN, DDPM, EBM, ...). "
                              "Same request + same seed = same images.")
    app.state.catalog, app.state.pool, app.state.limits = catalog, pool, limits

    @app.middleware("http")
    async def check_token(request: Request, call_next):
        sent = auth.request_token(request.headers, request.query_params, request.cookies)
        if not auth.allowed(request.url.path, sent, token):
            return error(401, "this server needs a token: send 'Authorization: Bearer <token>' "
                              "or open the page as /?token=<token>")
        response = await call_next(request)
        if token is not None and request.query_params.get("token") == token:
            response.set_cookie(auth.COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness, the loaded models, skipped checkpoints and the worker pool."""
        return {"status": "ok", "models": catalog.names(), "skipped": catalog.skipped, "pool": pool.stats()}

    @app.get("/models")
    def models() -> dict[str, Any]:
        """Every loaded model: kind, dataset, classes, size, parameters, training time, metrics, sampler options."""
        return {"models": [s.info for s in catalog.models.values()], "limits": limits.describe(),
                "skipped": catalog.skipped}

    async def generate(req: GenerateRequest, kind: str | None = None) -> Response:
        try:
            served = catalog.resolve(req.model, kind)
        except KeyError as exc:
            return error(404, exc.args[0], available=catalog.names())
        try:
            labels, options = check_request(req, served.model, limits)
        except RequestError as exc:
            return error(422, str(exc), field=exc.field)
        try:
            images, seconds = await pool.run(draw, served, req.n, labels, req.seed, options)
        except PoolFull as exc:
            return error(503, str(exc), headers={"Retry-After": str(exc.retry_after)})
        except ValueError as exc:  # the model's own checks (e.g. an option that clashes with the sampler)
            return error(422, str(exc), field=field_in(str(exc)))
        headers = {"X-Generation-Seconds": f"{seconds:.4f}"}
        if req.output == "png":
            return Response(grid_png(images, nrow=min(req.n, 8)), media_type="image/png", headers=headers)
        return JSONResponse({"model": served.name, "kind": served.info["kind"], "n": req.n, "seed": req.seed,
                             "labels": labels.tolist() if labels is not None else None, "options": options,
                             "seconds": seconds, "width": images.shape[-1], "height": images.shape[-2],
                             "images": base64_pngs(images)}, headers=headers)

    @app.post("/generate")
    async def generate_any(req: GenerateRequest) -> Response:
        """Images from any loaded model (``model`` names it; see GET /models)."""
        return await generate(req)

    @app.post("/generate/diffusion")
    async def generate_diffusion(req: GenerateRequest) -> Response:
        """As /generate, restricted to diffusion models (DDPM)."""
        return await generate(req, kind="ddpm")

    @app.post("/generate/ebm")
    async def generate_ebm(req: GenerateRequest) -> Response:
        """As /generate, restricted to energy-based models."""
        return await generate(req, kind="ebm")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE / "index.html")

    app.mount("/page", StaticFiles(directory=PAGE), name="page")
    return app


def draw(served: Served, n: int, labels, seed: int, options: dict[str, Any]):
    """Sample in a worker thread, one call at a time per model; returns (uint8 images, seconds)."""
    with served.lock:
        t0 = time.perf_counter()
        images = served.model.sample(n, labels=labels, seed=seed, **options)
        return images, time.perf_counter() - t0


def field_in(message: str) -> str | None:
    """The option a model's error message names ("option 'steps' = ..."), if any."""
    if message.startswith("option '"):
        return message.split("'")[1]
    return None
