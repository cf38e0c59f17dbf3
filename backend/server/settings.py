"""Server settings (pydantic-settings): where to listen, what to load, who may call.

Values come from, in order of precedence: explicit constructor arguments (the CLI passes its flags
this way), environment variables prefixed ``MOTION_SEARCH_`` (``MOTION_SEARCH_API_TOKEN``,
``MOTION_SEARCH_INDEX_DIR``, ...), then the defaults below. Nothing is read at import time: the
environment is read when :class:`ServerSettings` is instantiated.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.errors import ConfigError
from backend.model.config import DEFAULT_MODEL_DIR
from backend.model.expansion import EXPANSION_CAPTIONS
from backend.motion.limits import MAX_FILE_BYTES

__all__ = [
    "DEFAULT_INDEX_DIR",
    "ServerSettings",
    "check_binding",
    "is_loopback_host",
]

#: Where ``python -m backend index build`` writes when no ``--out`` is given (relative to the cwd).
DEFAULT_INDEX_DIR = Path("index")


class ServerSettings(BaseSettings):
    """Everything the HTTP server needs to start.

    Attributes:
        host: interface to bind; loopback (``127.0.0.1``, ``::1``, ``localhost``) by default.
        port: TCP port.
        index_dir: index folder built by ``python -m backend index build``.
        checkpoint_dir: model folder (``config.json`` + ``model.safetensors`` + ``feature_stats.json``).
        api_token: when set, every request except ``GET /health`` (and the OpenAPI docs) needs
            ``Authorization: Bearer <token>``.
        allow_remote: must be true to bind a non-loopback host (which also needs ``api_token``).
        preview_cache_dir: where rendered preview PNGs are cached; default
            ``<index_dir>.previews`` beside the index folder.
        torch_threads: intra-op threads for torch (``0`` keeps torch's default).
        max_upload_bytes: largest accepted motion file on ``POST /library`` (upload or path).
        allowed_hosts: extra ``Host`` names served besides loopback (and ``host`` with ``allow_remote``);
            every other ``Host`` header is refused (DNS rebinding).
        library_roots: folders whose files ``POST /library`` may read by path (symlinks resolved); empty
            = path mode off.
        search_candidates: windows the two-stage search re-scores exactly (above 1,024 windows); more =
            closer to exact search, slower (docs/benchmarks.md: real library recall@10 0.985 at 256,
            0.995 at 512 for twice the re-rank time).
        text_runtime: query encoding, ``auto`` (on CPU the int8 graph in ONNX Runtime when it is close to
            the float one, else the float graph), ``onnx`` (the float graph), ``onnx-int8`` or ``torch``.
        strengths: where alignment strengths (the add-on's colours) come from: ``attention`` (default: the
            score's own token x patch cosines, no extra pass) or ``gradient`` (gradient x input of the score;
            closer to occlusion, one forward + backward pass per explained hit; docs/benchmarks.md,
            "Alignment faithfulness").
        attribution_steps: with ``strengths=gradient``: gradient x input (1) or integrated gradients with this
            many steps (that many times the alignment cost; closer to occlusion on some clips).
        expansion: caption-bank captions searched with each query (``backend/model/expansion.py``; 0 = the
            query alone).
    """

    model_config = SettingsConfigDict(env_prefix="MOTION_SEARCH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    index_dir: Path = DEFAULT_INDEX_DIR
    checkpoint_dir: Path = DEFAULT_MODEL_DIR
    api_token: SecretStr | None = None
    allow_remote: bool = False
    preview_cache_dir: Path | None = None
    torch_threads: int = Field(default=0, ge=0)
    max_upload_bytes: int = Field(default=MAX_FILE_BYTES, gt=0, le=MAX_FILE_BYTES)
    allowed_hosts: list[str] = Field(default_factory=list)
    library_roots: list[Path] = Field(default_factory=list)
    search_candidates: int = Field(default=256, ge=1, le=100_000)
    text_runtime: Literal["auto", "onnx", "onnx-int8", "torch"] = "auto"
    strengths: Literal["attention", "gradient"] = "attention"
    attribution_steps: int = Field(default=1, ge=1, le=64)
    expansion: int = Field(default=EXPANSION_CAPTIONS, ge=0, le=8)

    @property
    def token(self) -> str | None:
        """The API token in clear, or ``None`` when the server is open (empty strings count as unset)."""
        if self.api_token is None:
            return None
        value = self.api_token.get_secret_value()
        return value or None

    def resolved_preview_cache_dir(self) -> Path:
        """The preview cache folder (``preview_cache_dir`` or ``<index_dir>.previews``)."""
        if self.preview_cache_dir is not None:
            return Path(self.preview_cache_dir)
        index_dir = Path(self.index_dir)
        return index_dir.parent / f"{index_dir.name}.previews"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names a loopback interface only.

    Args:
        host: an IP literal or host name.

    Returns:
        True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``); false for everything
        else, including the wildcard ``0.0.0.0`` / ``::`` and other host names.

    >>> is_loopback_host("127.0.0.1"), is_loopback_host("::1"), is_loopback_host("0.0.0.0")
    (True, True, False)
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_binding(settings: ServerSettings) -> None:
    """Refuse unsafe network exposure.

    Args:
        settings: the server settings.

    Raises:
        ConfigError: ``host`` is not loopback and either ``allow_remote`` is false or no API token is
            set; the message names the host and the missing flag.
    """
    if is_loopback_host(settings.host):
        return
    if not settings.allow_remote:
        raise ConfigError(
            f"host={settings.host!r} is not a loopback address; binding it exposes the server to the "
            "network. Pass --allow-remote (and --api-token TOKEN) to do that on purpose, or use "
            "--host 127.0.0.1"
        )
    if settings.token is None:
        raise ConfigError(
            f"host={settings.host!r} with --allow-remote needs an API token: pass --api-token TOKEN "
            "or set MOTION_SEARCH_API_TOKEN"
        )
