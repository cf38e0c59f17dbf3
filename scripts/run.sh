#!/usr/bin/env bash
# The README's run command: set up, fetch data, build library + index with the default model, build the
# Blender extension zip into dist/, and serve on 127.0.0.1:8765. Extra arguments go to `python -m backend main`
# (e.g. --demo, --no-serve, --port N). Uses ../shared/datasets as a mirror when it exists, else upstream.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mirror=()
if [ -d ../shared/datasets ] && [[ " $* " != *" --mirror "* ]]; then mirror=(--mirror ../shared/datasets); fi
exec .venv/bin/python -m backend main "${mirror[@]}" "$@"
