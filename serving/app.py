"""The application factory: ``create_app(settings)``; connections open in the lifespan.

Startup loads the served model(s), compiles the ranking kernels (so no request pays for JIT),
opens the online store and starts a poller that notices a promoted alias. A store that cannot
be reached at startup is not fatal: requests are answered degraded until it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from http import HTTPStatus

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from feature_store.embedded import open_store
from feature_store.online import StoreUnavailableError, UnknownEntityError
from feature_store.redis_store import RedisOnlineStore
from feature_store.settings import OnlineStoreSettings
from recommender.experiments.config import Experiment, ExperimentConfigError
from recommender.ranking.warmup import warm_up
from serving import web
from serving.body_limit import BodyLimitMiddleware
from serving.churn_risk import ChurnRiskHolder, churn_source
from serving.churn_risk import poll as poll_churn
from serving.experiments import LiveExperiments, model_targets
from serving.exposures import ExposureLogger
from serving.last_good import LastGoodStore, store_directory
from serving.model_holder import ModelHolder
from serving.model_source import DirectorySource, ModelSource, RegistrySource
from serving.observability import Metrics, RequestContextMiddleware, dead_letter_count
from serving.rate_limit import FailedAttempts, FailedKeyLimitMiddleware
from serving.recommend import StoreRequiredError, UnknownClientError, UnknownItemError
from serving.reload_broadcast import ReloadListener, reload_if_changed
from serving.routers import (
    admin,
    cabinet,
    churn,
    cold_start,
    events,
    experiments,
    health,
    items,
    managers,
)
from serving.security import KeyRing
from serving.security_headers import SecurityHeadersMiddleware
from serving.settings import ServingSettings
from serving.store_gateway import StoreGateway
from serving.validation_errors import echo_safe

log = logging.getLogger("serving")

COLD_START_HINT = (
    "for a new client, POST /v1/recommendations with its features and owned offers (cold start)"
)
#: Longest request path echoed back in a 404/405 message.
_MAX_ECHOED_PATH = 200


def model_source(settings: ServingSettings) -> ModelSource:
    if settings.model_dir is not None:
        return DirectorySource(settings.model_dir)
    return RegistrySource(settings.model_name, settings.tracking_uri)


def _open_store(settings: ServingSettings) -> RedisOnlineStore | None:
    store_settings = OnlineStoreSettings(redis_url=settings.redis_url, data_dir=settings.data_dir)
    try:
        store = open_store(store_settings)
    except StoreUnavailableError as exc:
        log.error("online store cannot be opened, serving degraded: %s", exc)
        return None
    log.info("online store: %s", store_settings.display_url)
    return store


def _wanted_targets(experiments: list[Experiment]) -> list[str]:
    """Model targets of the experiments that have not ended."""
    now = datetime.now(UTC)
    return model_targets([e for e in experiments if e.status(now) != "ended"])


def _preload_targets(holder: ModelHolder, live: LiveExperiments) -> None:
    """Load the experiments' models before serving, so no client starts on the fallback."""
    try:
        experiments = live.registry.experiments()
    except ExperimentConfigError as exc:
        log.error("experiments file unusable: %s", exc)
        return
    for target in _wanted_targets(experiments):
        if holder.get(target) is None and holder.load_extra(target) is None:
            log.warning("experiment target %r cannot be loaded; its clients get 'fallback'", target)
    live.refresh()


async def _poll_aliases(holder: ModelHolder, interval: float, metrics: Metrics) -> None:
    """Pick up promotions without a call to /v1/admin/reload (every worker polls)."""
    while True:
        await asyncio.sleep(interval)
        for alias in holder.served_aliases:
            outcome = await run_in_threadpool(reload_if_changed, holder, alias)
            if outcome != "unchanged":
                metrics.reloads.labels(outcome).inc()


def _listen_for_reloads(
    store: RedisOnlineStore | None, holder: ModelHolder, metrics: Metrics
) -> ReloadListener | None:
    """Follow the other workers' reloads (``serving.reload_broadcast``); needs the store."""
    if store is None:
        log.warning("online store down at start: reloads reach other workers by polling only")
        return None
    listener = ReloadListener(store.redis, holder, lambda o: metrics.reloads.labels(o).inc())
    listener.start()
    return listener


def _lifespan(settings: ServingSettings):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder: ModelHolder = app.state.holder
        await run_in_threadpool(warm_up)
        await run_in_threadpool(holder.load_all)
        await run_in_threadpool(app.state.churn.load)  # none or a failure: logged, not fatal
        await run_in_threadpool(_preload_targets, holder, app.state.experiments)
        store = await run_in_threadpool(_open_store, settings)
        app.state.store = StoreGateway(store, retry_s=settings.store_retry_s)
        exposures: ExposureLogger = app.state.exposures
        tasks = [asyncio.create_task(exposures.run())]
        if settings.reload_poll_s > 0:
            poll = _poll_aliases(holder, settings.reload_poll_s, app.state.metrics)
            tasks.append(asyncio.create_task(poll))
            tasks.append(asyncio.create_task(poll_churn(app.state.churn, settings.reload_poll_s)))
        listener = _listen_for_reloads(store, holder, app.state.metrics)
        app.state.reload_listener = listener
        log.info("serving %s from %s", holder.current.label, holder.source.description)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(exposures.drain)
            if listener is not None:
                await run_in_threadpool(listener.stop)
            if store is not None:
                store.redis.close()

    return lifespan


def _error(
    request: Request, code: int, detail: object, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    state = request.scope.get("state", {})
    version = state.get("model_version")
    if version is None:
        with contextlib.suppress(LookupError):
            version = request.app.state.holder.current.label
    body = {
        "detail": detail,
        "request_id": state.get("request_id", ""),
        "model_version": version or "none",
    }
    return JSONResponse(body, status_code=code, headers=dict(headers) if headers else None)


def _unhandled(request: Request, exc: Exception) -> Response:
    """A 500 for an exception no handler took (``RequestContextMiddleware`` logs it)."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    detail = f"internal server error; quote request id {request_id} when reporting it"
    return _error(request, status.HTTP_500_INTERNAL_SERVER_ERROR, detail)


def _http_detail(request: Request, exc: HTTPException) -> object:
    """The route's own detail, or a clearer one for routing's bare 404 and 405."""
    try:
        bare = exc.detail == HTTPStatus(exc.status_code).phrase  # no message of its own
    except ValueError:  # a status code outside the standard ones
        bare = False
    if not bare:
        return exc.detail
    path = request.url.path
    if len(path) > _MAX_ECHOED_PATH:
        path = path[:_MAX_ECHOED_PATH] + "..."
    docs = f"; see {request.app.docs_url}" if request.app.docs_url else ""
    if exc.status_code == status.HTTP_404_NOT_FOUND and "endpoint" not in request.scope:
        return f"no route {request.method} {path}{docs}"
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        allowed = (exc.headers or {}).get("Allow", "")
        return f"method {request.method} is not allowed on {path}; allowed: {allowed}{docs}"
    return exc.detail


def _install_error_handlers(app: FastAPI) -> None:
    # Starlette's class: routing raises it (404, 405) and FastAPI's HTTPException extends it
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code in (status.HTTP_204_NO_CONTENT, status.HTTP_304_NOT_MODIFIED):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return _error(request, exc.status_code, _http_detail(request, exc), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # JSON-valid (NaN input) and short (a 10 MB field): see serving.validation_errors
        errors = echo_safe(exc.errors())
        return _error(request, status.HTTP_422_UNPROCESSABLE_CONTENT, errors)

    @app.exception_handler(UnknownClientError)
    async def unknown_client(request: Request, exc: UnknownClientError) -> JSONResponse:
        detail = f"unknown client {exc.args[0]!r}; {COLD_START_HINT}"
        return _error(request, status.HTTP_404_NOT_FOUND, detail)

    @app.exception_handler(UnknownItemError)
    async def unknown_item(request: Request, exc: UnknownItemError) -> JSONResponse:
        return _error(
            request, status.HTTP_422_UNPROCESSABLE_CONTENT, _field_error(exc.field, str(exc))
        )

    @app.exception_handler(UnknownEntityError)
    async def unknown_entity(request: Request, exc: UnknownEntityError) -> JSONResponse:
        return _error(
            request, status.HTTP_422_UNPROCESSABLE_CONTENT, _field_error(exc.field, str(exc))
        )

    @app.exception_handler(StoreUnavailableError)
    async def store_down(request: Request, exc: StoreUnavailableError) -> JSONResponse:
        detail = (
            "the online store (Redis) is unavailable, the request may not have been recorded; "
            "retry shortly (a posted event with the same event_id is counted once)"
        )
        return _error(request, status.HTTP_503_SERVICE_UNAVAILABLE, detail, {"Retry-After": "1"})

    @app.exception_handler(StoreRequiredError)
    async def store_required(request: Request, exc: StoreRequiredError) -> JSONResponse:
        return _error(request, status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "1"})


def _field_error(field: str, message: str) -> list[dict[str, object]]:
    return [
        {
            "type": "value_error",
            "loc": ["body", *field.replace("[", ".").replace("]", "").split(".")],
            "msg": message,
        }
    ]


def jsonable(value: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """Build the API; nothing is opened until the lifespan starts."""
    settings = settings or ServingSettings()
    source = model_source(settings)
    kept = store_directory(settings.data_dir, source.description, settings.model_aliases[0])
    holder = ModelHolder(source, settings.model_aliases, LastGoodStore(kept))
    app = FastAPI(
        title="Offer recommendations",
        version="1",
        description="Personalized tariffs, courses and add-on services for B2B/B2G clients.",
        lifespan=_lifespan(settings),
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.churn = ChurnRiskHolder(churn_source(settings))  # serving.churn_risk
    app.state.keys = KeyRing(settings)
    app.state.store = StoreGateway(None, retry_s=settings.store_retry_s)
    app.state.metrics = Metrics(
        holder,
        lambda: bool(app.state.store.degraded),
        dead_letters=lambda: dead_letter_count(app.state.store),
    )

    def on_change(experiments: list[Experiment]) -> None:
        for target in _wanted_targets(experiments):
            if holder.get(target) is None:
                holder.want(target)

    app.state.experiments = LiveExperiments(
        settings.data_dir, settings.experiments_check_s, on_change
    )
    app.state.exposures = ExposureLogger(
        lambda: app.state.store, app.state.metrics, settings.exposure_buffer
    )
    for module in (cabinet, cold_start, managers, churn, items, events, experiments, admin, health):
        app.include_router(module.router)
    _install_error_handlers(app)
    web.install(app)  # account-manager pages, NBO exports, data-scientist view
    app.add_middleware(  # inside RequestContextMiddleware: a 413 has the request id
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        on_too_large=lambda request, exc: _error(request, exc.status_code, exc.detail, exc.headers),
    )
    # failed keys and logins per address (429), then browser security headers on every answer
    app.state.failed_attempts = FailedAttempts(
        lambda: app.state.store, settings.failed_key_limit, settings.failed_key_window_s
    )
    app.add_middleware(
        FailedKeyLimitMiddleware, attempts=app.state.failed_attempts, keys=app.state.keys
    )
    docs = (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(SecurityHeadersMiddleware, csp_exempt=docs)
    app.add_middleware(
        RequestContextMiddleware, metrics=app.state.metrics, holder=holder, on_error=_unhandled
    )
    return app
