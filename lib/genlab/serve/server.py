"""``genlab serve``: load the models, check the bind address against the token, run uvicorn.

uvicorn handles SIGTERM and Ctrl-C gracefully: it stops accepting connections, lets in-flight
requests finish (up to ``GRACE_SECONDS``), then the app's lifespan joins the worker threads.
"""

from __future__ import annotations

import logging
import os

from .auth import check_bind

GRACE_SECONDS = 60  # longest time a shutdown waits for in-flight generations
TOKEN_ENV = "GENLAB_TOKEN"


def serve(runs: str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None, device: str = "auto",
          workers: int = 2, queue: int = 4) -> None:
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
    app = create_app(catalog, workers=workers, queue=queue, token=token)
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=GRACE_SECONDS, log_level="info")
