"""The generation service: a FastAPI app that serves every trained model under a runs folder, and its page.

``python -m genlab serve --runs outputs/quick`` (see :mod:`genlab.serve.server`). Models are found
and loaded only through the registry (:func:`genlab.models.find_runs`, :func:`genlab.models.load_trained`).
"""

from .app import create_app
from .catalog import Catalog
from .limits import Limits

__all__ = ["Catalog", "Limits", "create_app"]
