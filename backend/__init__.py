"""Motion Search backend: motion data, the late-interaction retrieval model, the index and the HTTP server."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
