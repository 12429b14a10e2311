"""``genlab serve``: load the models, check the bind address against the token, run uvicorn.

uvicorn handles SIGTERM and Ctrl-C gracefully: it stops accepting connections, lets in-flight
requests finish (up to ``GRACE_SECONDS``), then the app's lifespan joins the worker threads.
The access log hides tokens (:class:`genlab.serve.auth.HideToken`).
"""

from __future__ import annotations

import logging
import os

from .auth import check_bind, log_config
from .limits import Limits

GRACE_SECONDS = 60  # longest time a shutdown waits for in-flight generations
TOKEN_ENV = "GENLAB_TOKEN"


def parse_budgets(items: list[str] | None) -> Limits:
    """``--budget 3200 --budget ddpm=1600`` -> Limits(budget=3200, budgets={"ddpm": 1600}); kinds from the registry."""
    from ..models.registry import names
    default, per_kind = Limits().budget, {}
    for item in items or []:
        kind, _, value = item.rpartition("=")
        if kind and kind not in names():
            raise ValueError(f"--budget {item}: unknown kind {kind!r}; kinds: {', '.join(names())}")
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"--budget {item}: give images x network steps per request as a whole number >= 1, "
                             f"e.g. --budget 3200 or --budget ddpm=1600")
        if kind:
            per_kind[kind] = int(value)
        else:
            default = int(value)
    return Limits(budget=default, budgets=per_kind)


def serve(runs: str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None, device: str = "auto",
          workers: int = 2, queue: int = 4, limits: Limits = Limits()) -> None:
    import uvicorn

    from .app import create_app
    from .catalog import Catalog
    token = token or os.environ.get(TOKEN_ENV) or None
    check_bind(host, token)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    catalog = Catalog(runs, device)
    if not catalog.models:
        logging.getLogger("genlab.serve").warning("no loadable model under %s: every /generate will be a 404 "
                                                  "(train with make book, or point --runs elsewhere)", runs)
    app = create_app(catalog, limits=limits, workers=workers, queue=queue, token=token)
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=GRACE_SECONDS, log_level="info",
                log_config=log_config())
