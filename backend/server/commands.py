"""``python -m backend serve``: run the HTTP API (loopback by default)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.server.settings import ServerSettings

__all__ = ["add_parser", "run", "settings_from_args"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``serve`` sub-command."""
    p = subparsers.add_parser(
        "serve",
        help="run the HTTP API (default 127.0.0.1:8765)",
        description="Serve an index over HTTP (docs/api.md). Loopback only unless --allow-remote and an API "
        "token are given. Flags override MOTION_SEARCH_* environment variables.",
    )
    p.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default 8765)")
    p.add_argument("--index", type=Path, dest="index_dir", help="index folder (default ./index)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        dest="checkpoint_dir",
        help="model folder (default backend/assets/default_model)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="allow binding a non-loopback host (requires an API token)",
    )
    p.add_argument(
        "--api-token",
        dest="api_token",
        help="require 'Authorization: Bearer TOKEN' (prefer MOTION_SEARCH_API_TOKEN: argv is visible)",
    )
    p.add_argument(
        "--preview-cache",
        type=Path,
        dest="preview_cache_dir",
        help="folder for cached preview PNGs (default <index>.previews)",
    )
    p.add_argument(
        "--threads", type=int, dest="torch_threads", help="torch intra-op threads (0 = torch default)"
    )
    p.add_argument(
        "--library-root",
        type=Path,
        action="append",
        dest="library_roots",
        metavar="DIR",
        help="folder whose files POST /library may add by path (repeatable; none = path mode off)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="NAME",
        help="extra Host header name to serve besides loopback (repeatable; DNS-rebinding guard)",
    )
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return p


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """Build :class:`ServerSettings` from the flags that were given (others come from env / defaults).

    Raises:
        ConfigError: an invalid value (names the flag).
    """
    from pydantic import ValidationError

    from backend.errors import ConfigError
    from backend.server.settings import ServerSettings

    keys = (
        "host",
        "port",
        "index_dir",
        "checkpoint_dir",
        "allow_remote",
        "api_token",
        "preview_cache_dir",
        "torch_threads",
        "library_roots",
        "allowed_hosts",
    )
    given = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    try:
        return ServerSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "--" + str(first["loc"][0]).replace("_dir", "").replace("_", "-") if first.get("loc") else "?"
        raise ConfigError(f"{name}: {first['msg']}") from None


def run(args: argparse.Namespace) -> int:
    """Load the engine (failing early with a clear message), then serve until interrupted."""
    import uvicorn

    from backend.server.app import create_app
    from backend.server.engine import SearchEngine
    from backend.server.settings import check_binding

    settings = settings_from_args(args)
    check_binding(settings)
    engine = SearchEngine.load(settings)
    try:
        app = create_app(settings, engine=engine)
        print(
            f"Motion Search: {engine.library_size} clips, model {engine.model_name}; "
            f"http://{settings.host}:{settings.port}/docs",
            flush=True,
        )
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    finally:
        engine.close()
    return 0
