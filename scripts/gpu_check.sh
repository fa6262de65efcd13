#!/usr/bin/env bash
# The GPU checks in one go: the tests marked `gpu`, then the benchmark on the GPU (both batch formats, peak
# GPU memory, one run end to end, the 24-experiment grid). Writes logs and JSON figures into OUT_DIR; about
# 3-5 minutes on a GPU machine.
#
#   scripts/gpu_check.sh OUT_DIR
#
# Without CUDA it says so and runs the CPU parts: the gpu tests' own logic against the CPU
# (IMDB_LIGHTNING_TEST_DEVICE=cpu) and the benchmark on the CPU.
#
# What a bare GPU machine may lack, and how to bring it (from a machine with pip and the checkout):
# - Python packages. It needs torch (a CUDA build), lightning, torchmetrics, numba, tensorboard, matplotlib,
#   numpy, pytest and hypothesis, which GPU images usually have, and hydra-core, omegaconf and
#   antlr4-python3-runtime, which they usually lack. They are pure Python; build their wheels into the
#   git-ignored .whl/ (antlr4 ships only as source, so `pip wheel`, not `pip download`) and install them there:
#     pip wheel -q --no-deps -w .whl hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3
#     (there) python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
# - The data: copy ../shared/data (or any folder with aclImdb*.tar.gz and imdb_word_index.json) into the
#   git-ignored data/ of the checkout, or point IMDB_LIGHTNING_DATA at it.
# The package runs from src/ (no install needed): this script puts src on PYTHONPATH.
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
cd "$(dirname "$0")/.."
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export IMDB_LIGHTNING_DATA="${IMDB_LIGHTNING_DATA:-$PWD/data}"
export IMDB_LIGHTNING_CACHE="${IMDB_LIGHTNING_CACHE:-/tmp/imdb_lightning_cache}"
python=${PYTHON:-python3}

missing=$("$python" - <<'EOF'
import importlib.util
need = ["torch", "lightning", "torchmetrics", "numba", "tensorboard", "matplotlib", "numpy", "pytest", "hypothesis", "hydra", "omegaconf", "antlr4"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
EOF
)
if [ -n "$missing" ]; then
  echo "gpu_check: missing Python packages: $missing (see the top of this script for how to bring them)" | tee "$out/gpu_check.log"
  exit 2
fi
if [ ! -d "$IMDB_LIGHTNING_DATA" ]; then
  echo "gpu_check: no data folder at $IMDB_LIGHTNING_DATA (copy ../shared/data to data/ or set IMDB_LIGHTNING_DATA)" | tee "$out/gpu_check.log"
  exit 2
fi

if "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  device=cuda
  nvidia-smi > "$out/nvidia_smi.txt" 2>&1 || true
else
  device=cpu
  export IMDB_LIGHTNING_TEST_DEVICE=cpu
  echo "gpu_check: CUDA is absent: running the CPU parts only (the gpu tests' logic and the benchmark on the CPU)"
fi
"$python" - > "$out/versions.json" <<'EOF'
import json, platform, torch, lightning, numba
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
print(json.dumps({"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda, "gpu": gpu,
                  "lightning": lightning.__version__, "numba": numba.__version__}))
EOF

start=$(date +%s)
"$python" -m pytest -m gpu tests/scenarios/test_gpu.py -q -p no:cacheprovider 2>&1 | tee "$out/gpu_tests.log"
tests=${PIPESTATUS[0]}
"$python" scripts/bench.py fit --device "$device" --repeat 1 --json "$out/bench_$device.json" 2>&1 | tee "$out/bench_$device.log"
bench=${PIPESTATUS[0]}
"$python" scripts/bench.py grid --device "$device" --repeat 1 --json "$out/grid_$device.json" 2>&1 | tee -a "$out/bench_$device.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || bench=1
echo "gpu_check: device $device, tests exit $tests, benchmark exit $bench, $(( $(date +%s) - start )) s; results in $out" | tee -a "$out/gpu_check.log"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
