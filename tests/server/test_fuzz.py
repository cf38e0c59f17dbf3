"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis + Hypothesis).

Contract: no request a client can send gets a 5xx. Schemathesis reads ``/openapi.json`` of a real uvicorn
server on 127.0.0.1 (a private copy of the tiny index, one library root holding a real BVH, so path mode
runs too; the schema is the served ``/openapi.json``, built from the same app) and sends schema-shaped and schema-violating requests to every operation; any answer >= 500 fails.
Bounded for CI on two cores: :data:`EXAMPLES` examples per operation, no deadline.
"""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

#: examples per operation (the coverage phase adds boundary cases of each field)
EXAMPLES = 30
CLIP = "dataset-1_bye_feminine_001"


@pytest.fixture(scope="module")
def fuzz_url(tiny_setup, tmp_path_factory, bandai1, serve_live):
    from backend.server.settings import ServerSettings

    tmp = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(tiny_setup.index, tmp / "index")
    (tmp / "root").mkdir()
    shutil.copy(
        bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data" / f"{CLIP}.bvh", tmp / "root" / "a.bvh"
    )
    settings = ServerSettings(index_dir=tmp / "index", checkpoint_dir=tiny_setup.checkpoint,
                              preview_cache_dir=tmp / "previews", api_token=None,
                              library_roots=[tmp / "root"])  # fmt: skip
    with serve_live(settings) as url:
        yield url


def _openapi() -> dict:
    """The served OpenAPI document (what ``GET /openapi.json`` answers; building the app loads nothing)."""
    from backend.server.app import create_app
    from backend.server.settings import ServerSettings

    return create_app(ServerSettings(index_dir="unused", api_token=None)).openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_gets_a_server_error(case, fuzz_url) -> None:
    response = case.call(base_url=fuzz_url, timeout=120)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}\n"
        f"reproduce: {case.as_curl_command()}"
    )
