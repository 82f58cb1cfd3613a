"""The account-manager workspace: HTML pages, NBO exports and the data-scientist view.

``install(app)`` adds the routers, the static files and the login redirect to an API app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from serving.web import ds, exports, pages
from serving.web.auth import LoginRequiredError, login_redirect


def install(app: FastAPI) -> None:
    """Mount the workspace on ``app`` (pages at /, exports under /v1, CSS at /static/web)."""
    app.include_router(exports.router)
    app.include_router(pages.router)
    app.include_router(ds.router)
    app.mount("/static/web", StaticFiles(directory=Path(__file__).parent / "static"), name="web")

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        return login_redirect(request, exc)
