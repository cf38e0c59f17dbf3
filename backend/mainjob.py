"""``python -m backend main``: the README's run command, end to end.

fetch the data -> build the library -> build the index with the default model -> build the add-on zip
-> serve on 127.0.0.1:8765 (and, with ``--demo``, drive headless Blender through the whole workflow).
Every step is cached: a second run skips what is already there and starts the server in seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from backend.digest import sha256_file
from backend.errors import MotionSearchError
from backend.model.config import DEFAULT_MODEL_DIR

__all__ = ["REPO", "add_parser", "run"]

log = logging.getLogger("backend.main")
REPO = Path(__file__).resolve().parents[1]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "main",
        help="fetch data, build library + index, build the add-on zip, serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--mirror",
        type=Path,
        default=None,
        help="local mirror folder of the source archives (e.g. ../shared/datasets); default: upstream",
    )
    p.add_argument("--data-dir", type=Path, default=REPO / "data", help="where sources, library and index go")
    p.add_argument(
        "--checkpoint", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: shipped model)"
    )
    p.add_argument(
        "--dist", type=Path, default=REPO / "dist", help="where the add-on zip (and demo files) go"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--only", nargs="*", default=None, help="only these sources (names from the data README)")
    p.add_argument("--no-serve", action="store_true", help="prepare everything, do not start the server")
    p.add_argument(
        "--demo",
        action="store_true",
        help="after start-up, run the headless Blender demo (dist/demo.blend, dist/demo.png)",
    )
    return p


def _step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def _cli(argv: list[str]) -> None:
    from backend.cli import main as cli_main

    code = cli_main(argv)
    if code:
        raise MotionSearchError(f"step failed: python -m backend {' '.join(argv)} (exit {code})")


def _text_sources() -> list[str]:
    from backend.library.sources import SOURCES

    return [s.name for s in SOURCES if s.kind == "text"]


def _stale_library(library: Path, only: list[str] | None) -> str | None:
    """Why a cached library must be rebuilt (``None`` when it is current): missing, another plan version
    (an older build of fewer sources), or other sources than asked for."""
    from backend.library.build import PLAN_VERSION
    from backend.library.sources import MOTION_SOURCES

    try:
        info = json.loads((library / "library.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no library yet"
    if info.get("plan_version") != PLAN_VERSION:
        return f"built by library plan v{info.get('plan_version', 1)}, this is v{PLAN_VERSION}"
    wanted = set(only) & set(MOTION_SOURCES) if only else set(MOTION_SOURCES)
    have = set(info.get("sources", {})) & set(MOTION_SOURCES)
    if have != wanted:
        return f"holds sources {sorted(have)}, asked for {sorted(wanted)}"
    return None


def prepare(args: argparse.Namespace) -> tuple[Path, Path]:
    """Run the cached preparation steps; returns (library dir, index dir)."""
    data = args.data_dir.resolve()
    sources, library, index = data / "sources", data / "library", data / "index"
    only = ["--only", *args.only] if args.only else []
    # captions and labels come from the small text-only sources: fetch them whatever --only says
    fetch_only = ["--only", *dict.fromkeys([*args.only, *_text_sources()])] if args.only else []

    _step("1/4 fetch motion data" + (f" from mirror {args.mirror}" if args.mirror else " from upstream"))
    _cli(
        [
            "data",
            "fetch",
            "--dest",
            str(sources),
            *(["--mirror", str(args.mirror)] if args.mirror else []),
            *fetch_only,
        ]
    )

    _step("2/4 build the motion library")
    stale = _stale_library(library, args.only)
    if stale is None:
        print(f"cached: {library} (delete it to rebuild)")
    else:
        if (library / "library.json").exists():
            print(f"rebuilding {library}: {stale}")
        _cli(["data", "build-library", "--sources", str(sources), "--out", str(library), *only])

    _step("3/4 build the search index with the model at " + str(args.checkpoint))
    weights = args.checkpoint / "model.safetensors"
    if not weights.exists():
        raise MotionSearchError(f"no model weights at {weights}")
    header = index / "header.json"
    cached = False
    if header.exists():
        try:
            cached = json.loads(header.read_text()).get("model_checksum") == sha256_file(weights)
        except (OSError, ValueError):
            cached = False
    if cached and (library / "library.json").stat().st_mtime > header.stat().st_mtime:
        cached = False  # the library was rebuilt after the index
    if cached:
        print(f"cached: {index} (built by this model)")
    else:
        _cli(
            [
                "index",
                "build",
                "--library",
                str(library),
                "--checkpoint",
                str(args.checkpoint),
                "--out",
                str(index),
                "--overwrite",
            ]
        )

    _step("4/4 build the Blender extension zip")
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_addon.py"), "--out", str(args.dist)],
        check=True,
        cwd=REPO,
    )
    return library, index


def _print_instructions(host: str, port: int, dist: Path) -> None:
    zips = sorted(dist.glob("motion_search-*.zip"))
    zip_path = zips[-1] if zips else dist
    print(
        f"""
Motion Search backend: http://{host}:{port}  (API docs: http://{host}:{port}/docs)

Install the add-on in Blender 4.2+:
  Edit > Preferences > Get Extensions > (v menu, top right) > Install from Disk... > {zip_path}
Then in the 3D Viewport press N, open the "Motion Search" tab and type, for example:
  a person waves with the left hand
Press Search, pick a result, press Import. Ctrl-C here stops the server.
""",
        flush=True,
    )


def _wait_healthy(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise MotionSearchError(f"server at {url} did not become healthy within {timeout:.0f} s")


def _run_demo(url: str, dist: Path) -> int:
    py = REPO / ".venv-bpy42" / "bin" / "python"
    if not py.exists():
        raise MotionSearchError(f"no Blender venv at {py}: run bash scripts/setup.sh first")
    return subprocess.run(
        [str(py), str(REPO / "scripts" / "demo_blender.py"), "--url", url, "--out", str(dist)],
        cwd=REPO,
        check=False,
    ).returncode


def run(args: argparse.Namespace) -> int:
    _, index = prepare(args)
    if args.no_serve:
        _print_instructions(args.host, args.port, args.dist)
        return 0
    import uvicorn

    from backend.server.app import create_app
    from backend.server.settings import ServerSettings

    settings = ServerSettings(host=args.host, port=args.port, index_dir=index, checkpoint_dir=args.checkpoint)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=args.host, port=args.port, log_level="info")
    )
    url = f"http://{args.host}:{args.port}"
    if args.demo:
        result: dict[str, int] = {}

        def demo() -> None:
            try:
                _wait_healthy(url)
                result["code"] = _run_demo(url, args.dist)
            finally:
                server.should_exit = True

        threading.Thread(target=demo, daemon=True).start()
        server.run()
        return result.get("code", 1)

    def announce() -> None:
        _wait_healthy(url)
        _print_instructions(args.host, args.port, args.dist)

    threading.Thread(target=announce, daemon=True).start()
    server.run()  # Ctrl-C: uvicorn shuts down cleanly
    return 0
