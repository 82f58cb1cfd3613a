"""Request ids, the model-version header and Prometheus metrics, as one plain ASGI middleware.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) adds no task per request, which matters
on the cabinet's hot path. The request id is taken from a well-formed ``X-Request-ID`` header
or generated, kept in ``scope['state']`` (``request.state.request_id``) and echoed back.
Metrics go to a registry per app, so tests can build several apps in one process.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feature_store.dead_letters import DeadLetters
from feature_store.online import StoreUnavailableError
from serving.model_holder import ModelHolder
from serving.store_gateway import StoreGateway

log = logging.getLogger("serving")

_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
#: The ``method`` label's values; any other method (servers accept any token) is ``OTHER``.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The ``route`` label of a request no route matched (a real 404, a slash redirect).
UNMATCHED = "unmatched"

#: Builds the answer to an exception no handler took (the app's JSON error shape).
ErrorResponder = Callable[[Request, Exception], Response]
_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _ModelCollector(Collector):
    """``recsys_model_info{alias,name,version}`` read from the holder at scrape time."""

    def __init__(self, holder: ModelHolder) -> None:
        self.holder = holder

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "recsys_model_info",
            "Models being served (1 per alias)",
            labels=["alias", "name", "version"],
        )
        for model in self.holder.models():
            family.add_metric([model.alias, model.name, model.version], 1.0)
        yield family


class _DeadLetterCollector(Collector):
    """``recsys_events_dead_letters``: the length of the events' dead-letter stream, read at
    scrape time (so it counts what any flusher process moved there); absent while the store
    is down."""

    def __init__(self, count: Callable[[], int | None]) -> None:
        self.count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        value = self.count()
        if value is not None:
            yield GaugeMetricFamily(
                "recsys_events_dead_letters",
                "Event stream entries the flusher could not write (`recsys events dead-letters`)",
                value=float(value),
            )


def dead_letter_count(gateway: StoreGateway) -> int | None:
    """Entries in the dead-letter stream; None while the store is down (it does not wait)."""
    if gateway.store is None or gateway.degraded:
        return None
    try:
        return DeadLetters(gateway.store).count()
    except StoreUnavailableError:
        return None


class Metrics:
    """The service's Prometheus metrics in their own registry."""

    def __init__(
        self,
        holder: ModelHolder,
        degraded: Callable[[], bool],
        dead_letters: Callable[[], int | None] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "recsys_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "recsys_http_request_duration_seconds",
            "Request latency by route template",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "recsys_model_reloads",
            "Model reload attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.exposures_logged = Counter(
            "recsys_exposures_logged",
            "Impressions written to the event stream",
            registry=self.registry,
        )
        self.exposures_not_logged = Counter(
            "recsys_exposures_not_logged",
            "Impressions lost: buffer full while Redis was down, or still pending at shutdown",
            registry=self.registry,
        )
        self.exposure_write_failures = Counter(
            "recsys_exposure_write_failures",
            "Failed attempts to write a batch of impressions (retried)",
            registry=self.registry,
        )
        self.exposures_pending = Gauge(
            "recsys_exposures_pending",
            "Impressions waiting in memory to be written",
            registry=self.registry,
        )
        degraded_gauge = Gauge(
            "recsys_degraded", "1 while the online store is unreachable", registry=self.registry
        )
        degraded_gauge.set_function(lambda: float(degraded()))
        self.registry.register(_ModelCollector(holder))
        if dead_letters is not None:
            self.registry.register(_DeadLetterCollector(dead_letters))


def method_label(method: str) -> str:
    """The request method as a metric label, from a closed set."""
    return method if method in KNOWN_METHODS else "OTHER"


class RequestContextMiddleware:
    """Assigns the request id, adds the id and model-version headers, records metrics.

    An exception no handler took is logged here with the request id and, unless the answer
    had already started, answered by ``on_error`` through the same headers (else it is
    re-raised for the server).
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        holder: ModelHolder,
        on_error: ErrorResponder | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.holder = holder
        self.on_error = on_error
        # id(endpoint) -> path template of the routes that do not put themselves in
        # ``scope["route"]`` (FastAPI's /openapi.json and /docs, mounts); filled on first use
        self._templates: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _VALID_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                version = state.get("model_version") or self._current_version()
                if version:
                    headers.append((b"x-model-version", version.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            log.exception(
                "unhandled error in %s %r (request %s)",
                scope["method"],
                scope.get("path", ""),
                request_id,
            )
            if response_started or self.on_error is None:
                status_code = 500
                raise
            response = self.on_error(Request(scope, receive), exc)
            await response(scope, receive, send_with_headers)
        finally:
            template = self._template(scope)
            method = method_label(scope["method"])
            self.metrics.requests.labels(template, method, str(status_code)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        """The route label: the matched route's path template, else ``unmatched``."""
        path = getattr(scope.get("route"), "path", None)
        if path:
            return str(path)
        endpoint = scope.get("endpoint")
        if endpoint is None:  # no route matched
            return UNMATCHED
        if id(endpoint) not in self._templates:
            self._templates = _templates(scope)
        return self._templates.get(id(endpoint), UNMATCHED)

    def _current_version(self) -> str | None:
        try:
            return self.holder.current.label
        except LookupError:
            return None


def _templates(scope: Scope) -> dict[int, str]:
    """id(endpoint) -> path template of the app's top-level routes (a mount's ends in {path}).

    Keyed by ``id``: an endpoint may be unhashable (a mounted ``Router``), and the routes live
    as long as the app.
    """
    templates: dict[int, str] = {}
    for route in getattr(scope.get("app"), "routes", ()):
        endpoint = route.app if isinstance(route, Mount) else getattr(route, "endpoint", None)
        template = getattr(route, "path_format", None)
        if endpoint is not None and template:
            templates.setdefault(id(endpoint), str(template))
    return templates


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None
