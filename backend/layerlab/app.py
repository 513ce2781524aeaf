"""The ASGI app: `create_app(settings)` wires routers, error handling, access control and the frontend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from . import __version__
from .api import artifacts, catalogue, datasets, health, jobs, labs, studies, validate, ws
from .api.auth import AccessMiddleware
from .api.body import BodyLimitMiddleware
from .api.errors import ErrorBody, install_error_handlers
from .api.static import mount_frontend
from .catalogue.serve import catalogue_document, encode
from .settings import Settings

DESCRIPTION = """\
LayerLab: build a network from the chapter's layer catalogue, validate it, train it as a real PyTorch job
and watch it learn.

Every error answer has one body: `{"error", "message", "node_id", "loc", "cap"}` — a machine-readable
code, a sentence naming the field, node or limit at fault, the id of the model node at fault (or null),
the path of the field at fault, and the name of the exceeded limit (or null). Bodies over
`limits.max_body_bytes` answer 413; malformed JSON, invalid specs and exceeded limits answer 422.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with jobs.lifespan(app), ws.lifespan(app), studies.lifespan(app):
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="LayerLab",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.catalogue = encode(catalogue_document(settings.limits))
    install_error_handlers(app)
    for module in (health, catalogue, validate, datasets, jobs, artifacts, ws, labs, studies):
        app.include_router(module.router)
    # Middleware added last runs first: access control, then the body-size cap, then routing.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(AccessMiddleware, settings=settings)
    mount_frontend(app, settings.frontend_dir)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the spec models that request bodies refer to and the error body."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(validate.openapi_components())
        components.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
        app.openapi_schema = schema
    return app.openapi_schema
