#!/usr/bin/env bash
# The README's test command: set up what is needed, check lint (ruff) and types (mypy), then run every test
# (backend + pure add-on modules under .venv, real-Blender add-on tests under bpy 4.2 and 5.0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# lint and types first (seconds; mypy's config is [tool.mypy] in pyproject.toml: backend/ + addon/ vs the bpy stubs)
.venv/bin/ruff check backend addon scripts tests
.venv/bin/ruff format --check backend addon scripts tests
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"
MOTION_SEARCH_REQUIRE_BPY=1 bash scripts/test_blender.sh
