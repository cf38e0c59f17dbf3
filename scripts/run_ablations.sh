#!/usr/bin/env bash
# Benchmark the paper's claims on our data (docs/benchmarks.md, "Model" section): every row trains with the
# same budget on the same split (test held out by performer/take), then `evaluate` on the test split.
#   bash scripts/run_ablations.sh [LIBRARY_DIR] [SEEDS...]
# Rows: (a) paper = angles + MaxSim + MLM, (b) pooled, (c) positions, (d) no_mlm, (e) masked,
# (f) mirror = (a) + left/right mirror augmentation.
# ABLATION_SETS adds --set overrides shared by every row (e.g. a smaller CPU budget).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-data/library}; shift || true
seeds=("${@:-0}")
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
read -r -a extra <<< "${ABLATION_SETS:-}"
for seed in "${seeds[@]}"; do
  for row in ${ABLATION_ROWS:-paper pooled positions no_mlm masked mirror}; do
    out=runs/ablation-$row-s$seed
    if [ ! -f "$out/test.json" ]; then
      sets=(--set "seed=$seed")
      for s in "${extra[@]}"; do sets+=(--set "$s"); done
      .venv/bin/python -m backend train --config "configs/$row.yaml" --dataset library --data-root "$lib" \
        --out "$out" "${sets[@]}"
      .venv/bin/python -m backend evaluate --checkpoint "$out/best" --dataset library --data-root "$lib" \
        --split test --protocol all --protocol batch32 --protocol labels --protocol contrasts --out "$out/test.json"
    fi
  done
done
