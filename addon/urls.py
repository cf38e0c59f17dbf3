# SPDX-License-Identifier: GPL-3.0-or-later
"""Backend URLs (pure: stdlib only): the one spelling of a URL the add-on compares, and the loopback test.

Below :mod:`.client` (which talks to the URL) and :mod:`.library` (which names libraries by URL).
"""

from __future__ import annotations

import ipaddress
import urllib.parse

__all__ = ["is_loopback", "normalise_url"]


def normalise_url(url: str) -> str:
    """Strip whitespace and trailing slashes; add ``http://`` when no scheme is given.

    >>> normalise_url(" 127.0.0.1:8765/ ")
    'http://127.0.0.1:8765'
    """
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, ``127.0.0.0/8``, ``::1``).

    >>> is_loopback("http://127.0.0.1:8765"), is_loopback("http://localhost"), is_loopback("http://10.0.0.2")
    (True, True, False)
    """
    host = urllib.parse.urlsplit(normalise_url(url)).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
