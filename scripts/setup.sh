#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine (idempotent; re-runs take seconds).
#   .venv         backend + tests (torch 2.14.1 from this machine's disk, timm, transformers, MiniLM, FastAPI)
#   .venv-bpy42   Blender 4.2 LTS as a Python module (add-on tests, headless demo)
#   .venv-bpy50   Blender 5.0 as a Python module (add-on tests)
# Usage: bash scripts/setup.sh [--no-blender]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

want_blender=1
for a in "$@"; do [ "$a" = "--no-blender" ] && want_blender=0; done
[ "${MOTION_SEARCH_SKIP_BLENDER_SETUP:-0}" = 1 ] && want_blender=0

stamp_of() { sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16; }

make_venv() {  # $1 venv dir, $2 stamp key, rest: pip install args
  local dir=$1 key=$2; shift 2
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$key" ]; then return 0; fi
  echo "[setup] creating $dir (one-time; several minutes)"
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$key" > "$dir/.stamp"
}

key=$(stamp_of)
# torch first, pinned (a plain `torch` would pull a different multi-GB build).
make_venv .venv "$key" torch==2.14.1 torchvision==0.29.1 -e '.[test]'
if [ "$want_blender" = 1 ]; then
  make_venv .venv-bpy42 "$key-bpy42" 'bpy==4.2.*' pytest
  make_venv .venv-bpy50 "$key-bpy50" 'bpy==5.0.*' pytest
fi
echo "[setup] ok"
