#!/usr/bin/env bash
# Reproduce the lecture: every experiment x several seeds on the real data, then one report beside the
# lecture's published Keras figures.
#
#   IMDB_LIGHTNING_DATA=../shared/data scripts/reproduce_lecture.sh [SEEDS] [SWEEP_DIR] [PUBLISH_DIR]
#
# SEEDS defaults to 0,1,2; SWEEP_DIR to logs/multirun/lecture_<date>; with PUBLISH_DIR (e.g. docs/results)
# the report and its figures are also written there. STEPS_PER_EXECUTION (default 32: an epoch's 30 training
# batches in one Lightning step, Keras's steps_per_execution) changes how fast, not one number: 1 runs one
# batch a Lightning step.
set -euo pipefail
seeds="${1:-0,1,2}"
sweep="${2:-logs/multirun/lecture_$(date +%Y-%m-%d_%H-%M-%S)}"
publish="${3:-}"
start=$(date +%s)
# One job per core, side by side (each runs on one thread), where the joblib launcher is installed (the
# `sweep` extra); else one after another.
parallel=()
if python -c "import hydra_plugins.hydra_joblib_launcher" 2>/dev/null; then
  parallel=(hydra/launcher=joblib "hydra.launcher.n_jobs=$(nproc)")
fi
python -m imdb_lightning -m '+experiment=glob(*)' "seed=${seeds}" "model.steps_per_execution=${STEPS_PER_EXECUTION:-32}" \
  trainer.enable_progress_bar=false "hydra.sweep.dir=${sweep}" "${parallel[@]}"
python -m imdb_lightning.report "${sweep}" --lecture
if [ -n "${publish}" ]; then  # the report's files as written, not drawn a second time
  mkdir -p "${publish}"
  cp "${sweep}"/report.md "${sweep}"/epochs.csv "${sweep}"/curves_*.png "${publish}/"
  echo "published: ${publish}/report.md"
fi
echo "reproduce_lecture: seeds ${seeds}, $(( $(date +%s) - start )) s in all, sweep folder ${sweep}"
