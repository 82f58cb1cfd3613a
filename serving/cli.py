"""``recsys serve``: run the API under uvicorn with the app factory (one or more workers)."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

serve_app = typer.Typer(help="Run the recommendation API.", invoke_without_command=True)


@serve_app.callback()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (RECSYS_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (RECSYS_PORT)")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes (RECSYS_WORKERS)")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the champion model (settings from RECSYS_* / REDIS_URL / MLFLOW_TRACKING_URI)."""
    import os

    import uvicorn
    from pydantic import ValidationError

    from serving.nodelay import NoDelayH11Protocol
    from serving.settings import ServingSettings

    # validate first, so a bad setting is one clear message instead of a crash per worker
    overrides = {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v}
    try:
        settings = ServingSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages = "; ".join(str(e["msg"]) for e in exc.errors())
        typer.echo(f"invalid settings: {messages}", err=True)
        raise typer.Exit(2) from None
    for name, value in overrides.items():  # workers rebuild settings from the environment
        os.environ[f"RECSYS_{name.upper()}"] = str(value)
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(f"serving {settings.model_source} with {settings.workers} worker(s)")
    typer.echo(f"  API docs:        {base}/docs")
    typer.echo(f"  recommendations: {base}/v1/clients/{{client_id}}/recommendations")
    typer.echo(f"  health:          {base}/healthz  {base}/readyz  {base}/metrics")
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_level": log_level,
        "access_log": False,
        "http": NoDelayH11Protocol,
    }
    if settings.workers == 1:
        uvicorn.run("serving.app:create_app", **options)
        return
    # uvicorn.run's multi-worker mode, except that each worker listens on its own socket
    # (SO_REUSEPORT): with one shared socket a single worker tends to take every connection;
    # and a starting worker has time to start, a failing one does not stop those serving
    from serving.reuseport import shared_port
    from serving.supervisor import Supervisor

    config = uvicorn.Config("serving.app:create_app", **options)
    try:
        port_socket = shared_port(config.host, config.port)
    except OSError as exc:
        typer.echo(f"cannot bind {settings.host}:{settings.port}: {exc}", err=True)
        raise typer.Exit(1) from None
    with contextlib.suppress(KeyboardInterrupt), port_socket:
        Supervisor(config, [port_socket], settings.worker_startup_s).run()
