#!/usr/bin/env bash
# The grids behind docs/EXPERIMENTS.md. Results (each cell's JSON, then results.csv/json and
# summary.json/md) go to docs/experiments/<grid>/, and each finished cell is committed, so an
# interrupted run continues where it stopped (re-running skips finished cells) and the results
# stay in git; pipeline outputs (runs/), generated data and logs stay out of git (.gitignore).
# OUT=DIR writes elsewhere; COMMIT_CELLS=0 does not commit.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-docs/experiments}"
SAMPLES="${SAMPLES:-tests/data/criteo}"
AFTER=()
if [ "${COMMIT_CELLS:-1}" = 1 ]; then
  # The grid directory (cells/ and experiment.json; runs/, data/ and logs/ are git-ignored).
  AFTER=(--after-cell 'grid="$(dirname "$(dirname "$SPARSECTR_CELL")")" && git add "$grid" && git commit -q -m "experiment cell $(basename "$SPARSECTR_CELL" .json)" -- "$grid"')
fi
X=(.venv/bin/sparsectr experiment --no-plots "${AFTER[@]}")
GENERATED=(--grid docs/experiments/generated.yaml --out "$OUT/generated")
SAMPLED=(--grid docs/experiments/criteo_samples.yaml --out "$OUT/criteo_samples")
# RQ3 / RQ4: every loss at beta 0.1, 5 seeds, generated data.
"${X[@]}" "${GENERATED[@]}" --losses bce,combined_pair,combined_list,rcr,jrc,combined_contrastive,focal \
  --betas 0.1 --seeds 0,1,2,3,4
# RQ1: BCE and Combined-Pair from sparser than the paper's sparsest beta to 1, the same seeds
# (beta 0.1 is shared with the grid above: the same cells).
"${X[@]}" "${GENERATED[@]}" --losses bce,combined_pair --betas 0.05,0.2,0.4,1.0 --seeds 0,1,2,3,4
# RQ2: Combined-Pair over alpha at beta 0.1, paired with BCE's cells above (alpha 0.7 is the default's).
"${X[@]}" "${GENERATED[@]}" --losses combined_pair --alphas 0.1,0.3,0.5,0.7,0.9 --betas 0.1 --seeds 0,1,2,3,4
# Real samples: Kaggle at beta 0.1 (as RQ3); the 1TB day-0 sample is sparse already (beta 1).
"${X[@]}" "${SAMPLED[@]}" --data "$SAMPLES/kaggle_train_head10k.tsv.gz" --losses bce,combined_pair \
  --betas 0.1 --seeds 0,1,2,3,4
"${X[@]}" "${SAMPLED[@]}" --data "$SAMPLES/criteo1tb_day0_head10k.tsv.gz" --losses bce,combined_pair \
  --betas 1.0 --seeds 0,1,2,3,4
# Tables and plots of both directories.
.venv/bin/sparsectr experiment-report "$OUT/generated"
.venv/bin/sparsectr experiment-report "$OUT/criteo_samples"
