#!/usr/bin/env bash
# Run the add-on's real-Blender tests (tests/addon/blender) under every bpy venv that exists:
#   .venv-bpy42 (bpy 4.2 LTS, legacy actions) and .venv-bpy50 (bpy 5.0, slotted actions).
# Each run builds the add-on zip, installs it offline, and talks to a real backend process on loopback
# (built with the main venv, .venv, or $MOTION_SEARCH_MAIN_PYTHON).
#
# Usage: bash scripts/test_blender.sh [extra pytest args...]
# Env:   MOTION_SEARCH_BPY_VENVS="42 50"   which venvs to use (default: both)
#        MOTION_SEARCH_REQUIRE_BPY=1        fail (instead of skip) when a venv is missing
set -uo pipefail

cd "$(dirname "$0")/.."
venvs=${MOTION_SEARCH_BPY_VENVS:-"42 50"}
status=0
ran=0
for v in $venvs; do
    py=".venv-bpy${v}/bin/python"
    if [[ ! -x "$py" ]]; then
        if [[ "${MOTION_SEARCH_REQUIRE_BPY:-0}" == "1" ]]; then
            echo "test_blender: $py missing (create it: python3 -m venv .venv-bpy${v} && .venv-bpy${v}/bin/pip install 'bpy==${v:0:1}.${v:1}.*' pytest)" >&2
            status=1
        else
            echo "test_blender: skipping bpy ${v:0:1}.${v:1} ($py missing)"
        fi
        continue
    fi
    echo "== Blender add-on tests with $("$py" -c 'import bpy; print("bpy", bpy.app.version_string)' 2>/dev/null | tail -1) =="
    "$py" -m pytest tests/addon/blender -p no:cacheprovider -o addopts="" -q "$@"
    rc=$?
    ran=$((ran + 1))
    if [[ $rc -ne 0 ]]; then
        echo "test_blender: FAILED under .venv-bpy${v} (exit $rc)" >&2
        status=1
    fi
done
if [[ $ran -eq 0 && $status -eq 0 ]]; then
    echo "test_blender: no bpy venv found; nothing run"
fi
exit $status
