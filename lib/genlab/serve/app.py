"""The FastAPI app: /health, /models, POST /generate and POST /generate/{kind} (any registered kind), the page at /.

Generation runs in a bounded :class:`~genlab.serve.pool.WorkerPool`; a full pool is a 503 with
``Retry-After``. Bad fields are 422s naming the field, unknown models 404s listing the loaded ones, a
request over its kind's budget a 422 naming the budget (:mod:`genlab.serve.budget`); the work of a
client that disconnects stops at the sampler's next network call.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..models.registry import names as kind_names
from .budget import Abandoned, Meter, OverBudget
from .catalog import Catalog, Served
from .encode import base64_pngs, grid_png
from .guard import BodyCap, TokenGate, http_error, validation_error
from .limits import GenerateRequest, Limits, RequestError, check_request
from .pool import PoolFull, WorkerPool
from .schema import GENERATE_RESPONSES, HealthBody, ModelsBody, errors, with_loaded_models

PAGE = Path(__file__).parent / "page"
DISCONNECT_POLL_S = 0.25  # how often a waiting request checks that its client is still there
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
                  description="Images from the trained models under a runs folder (kinds: "
                              f"{', '.join(kind_names())}). Same request + same seed = same images.")
    app.state.catalog, app.state.pool, app.state.limits = catalog, pool, limits
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_middleware(BodyCap, max_bytes=limits.max_body_bytes)
    app.add_middleware(TokenGate, token=token)  # added last: runs first, before any body is read
    # documents the bearer token in the schema; the check itself is TokenGate
    secured = [Depends(HTTPBearer(auto_error=False))] if token is not None else []
    denied = errors(401) if token is not None else {}

    @app.get("/health", response_model=HealthBody)
    def health() -> dict[str, Any]:
        """Liveness, the loaded models, skipped checkpoints and the worker pool."""
        return {"status": "ok", "models": catalog.names(), "skipped": catalog.skipped, "pool": pool.stats()}

    @app.get("/models", response_model=ModelsBody, responses=denied, dependencies=secured)
    def models() -> dict[str, Any]:
        """Every loaded model: kind, dataset, classes, size, parameters, training time, metrics, sampler options;
        and the limits, with the budget of each kind."""
        return {"models": [s.info for s in catalog.models.values()], "limits": limits.describe(),
                "skipped": catalog.skipped}

    async def generate(request: Request, req: GenerateRequest, kind: str | None = None) -> Response:
        try:
            served = catalog.resolve(req.model, kind)
        except KeyError as exc:
            return error(404, exc.args[0], available=catalog.names())
        try:
            labels, options = check_request(req, served.model, limits)
        except RequestError as exc:
            return error(422, str(exc), field=exc.field)
        cancel = threading.Event()
        budget = limits.budget_for(served.info["kind"])
        try:
            work = asyncio.ensure_future(pool.run(draw, served, req.n, labels, req.seed, options, budget, cancel))
            while not (await asyncio.wait({work}, timeout=DISCONNECT_POLL_S))[0]:
                if await request.is_disconnected():
                    cancel.set()  # the sampler stops at its next network call
            images, seconds = await work
        except PoolFull as exc:
            return error(503, str(exc), headers={"Retry-After": str(exc.retry_after)})
        except Abandoned:
            pool.abandoned += 1
            log.info("abandoned a %s request: the client disconnected", served.name)
            return error(503, "abandoned: the client disconnected", headers={"Retry-After": "0"})
        except OverBudget as exc:
            return error(422, str(exc), field=exc.field)
        except ValueError as exc:  # the model's own checks (e.g. an option that clashes with the sampler)
            return error(422, str(exc), field=field_in(str(exc)))
        headers = {"X-Generation-Seconds": f"{seconds:.4f}"}
        if req.output == "png":
            return Response(grid_png(images, nrow=min(req.n, 8)), media_type="image/png", headers=headers)
        return JSONResponse({"model": served.name, "kind": served.info["kind"], "n": req.n, "seed": req.seed,
                             "labels": labels.tolist() if labels is not None else None, "options": options,
                             "seconds": seconds, "width": images.shape[-1], "height": images.shape[-2],
                             "images": base64_pngs(images)}, headers=headers)

    @app.post("/generate", response_model=None, responses=GENERATE_RESPONSES, dependencies=secured)
    async def generate_any(request: Request, req: GenerateRequest) -> Response:
        """Images from any loaded model (``model`` names it; see GET /models)."""
        return await generate(request, req)

    async def generate_kind(kind, request: Request, req: GenerateRequest) -> Response:
        """As /generate, restricted to one model kind; without ``model``, the one loaded model of that kind."""
        return await generate(request, req, kind=kind.value)

    # the path's kinds are the registry's (an enum in the schema; anything else is a 422)
    generate_kind.__annotations__["kind"] = enum.Enum("Kind", {name: name for name in kind_names()}, type=str)
    app.post("/generate/{kind}", response_model=None, responses=GENERATE_RESPONSES,
             dependencies=secured)(generate_kind)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE / "index.html")

    app.mount("/page", StaticFiles(directory=PAGE), name="page")
    with_loaded_models(app, catalog, limits.max_n)
    return app


def draw(served: Served, n: int, labels, seed: int, options: dict[str, Any], budget: int,
         cancel: threading.Event):
    """Sample in a worker thread, one call at a time per model, metered (budget, client gone);
    returns (uint8 images, seconds)."""
    with served.lock, Meter(served.model, n, budget, cancel):
        t0 = time.perf_counter()
        images = served.model.sample(n, labels=labels, seed=seed, **options)
        return images, time.perf_counter() - t0


def field_in(message: str) -> str | None:
    """The option a model's error message names ("option 'steps' = ..."), if any."""
    if message.startswith("option '"):
        return message.split("'")[1]
    return None
