"""``recsys store status`` and ``recsys store stop``: the embedded Redis of a data directory.

The embedded server runs while some process uses it and stops by itself after the last one
(see ``feature_store.embedded_server``); these commands show who uses it and stop it by hand.
Neither starts a server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from feature_store.embedded_server import EmbeddedServer

store_app = typer.Typer(help="The embedded Redis of a data directory: status, stop.")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $RECSYS_DATA_DIR or ./data)."),
]


def _server(data_dir: Path | None) -> EmbeddedServer:
    from feature_store.embedded_server import EmbeddedServer
    from feature_store.settings import OnlineStoreSettings

    settings = OnlineStoreSettings(data_dir=data_dir) if data_dir else OnlineStoreSettings()
    if not settings.embedded:
        typer.echo(
            f"REDIS_URL is set ({settings.display_url}): the store is not embedded, "
            "nothing to inspect or stop here",
            err=True,
        )
        raise typer.Exit(2)
    return EmbeddedServer(settings.redis_dir)


def _users(server: EmbeddedServer) -> str:
    pids = server.user_pids()
    if pids is None:
        return "in use" if server.in_use() else "none"
    return ", ".join(map(str, pids)) if pids else "none"


@store_app.command("status")
def status_command(data_dir: DataDir = None) -> None:
    """Is the embedded server of the data dir running, where, and which processes use it?

    Exit status 0 when it is running, 1 when it is not.
    """
    server = _server(data_dir)
    pid = server.pid()
    typer.echo(f"embedded redis of {server.directory}")
    typer.echo(f"  socket:  {server.socket}")
    typer.echo(f"  server:  {f'running, pid {pid}' if pid else 'not running'}")
    if pid:
        typer.echo(f"  answers: {'yes' if server.answers() else 'no (loading or stuck)'}")
    typer.echo(f"  users:   {_users(server)}")
    if pid is None:
        raise typer.Exit(1)


@store_app.command("stop")
def stop_command(
    data_dir: DataDir = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Stop it even while processes use it (they reconnect once it is back)."
        ),
    ] = False,
) -> None:
    """Stop the embedded server of the data dir; it saves its data first.

    Refused while another process (the API, a flusher) uses it, unless --force. The next
    command that needs the store starts it again on the same socket.
    """
    from feature_store.embedded_server import stop
    from feature_store.online import StoreUnavailableError

    server = _server(data_dir)
    if server.pid() is None:
        typer.echo(f"the embedded redis of {server.directory} is not running")
        return
    if not force and server.in_use():
        typer.echo(
            f"the embedded redis of {server.directory} is in use (processes: {_users(server)}); "
            "stop them first or use --force",
            err=True,
        )
        raise typer.Exit(1)
    try:
        pid = stop(server)
    except StoreUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if pid is None:
        typer.echo(f"the embedded redis of {server.directory} is not running")
    else:
        typer.echo(f"stopped redis-server {pid}; data saved in {server.directory}")
