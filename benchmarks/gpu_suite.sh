#!/usr/bin/env bash
# One-call GPU suite: environment, quick correctness checks, then the benchmarks at GPU sizes.
#
#   bash benchmarks/gpu_suite.sh            # logs + JSON to $OUT if set, else ./out
#
# Designed for the lent GPU machine (jax with CUDA, diffrax, equinox, optimistix, optax preinstalled; the repo
# is copied there, not installed: PYTHONPATH=$PWD). Finishes within SUITE_BUDGET_S (default 480 s): every step
# has its own time limit, clipped to what is left; a step that fails or times out is recorded and the suite goes
# on. Exit status: 0 if every step passed, 1 otherwise. The summary is in $OUT/suite_summary.txt.
#
# To add a benchmark (continuation, sweeps, ...), add one `step` line to the list at the bottom:
#   step NAME LIMIT_S [--needs FILE] [--module PYTHON_MODULE] -- COMMAND ARGS...
# (a step whose file or module is missing is skipped, not failed)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
unset JAX_COMPILATION_CACHE_DIR || true          # first-call timings must be cold compiles
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
SUITE_BUDGET_S="${SUITE_BUDGET_S:-480}"
START=$(date +%s)
SUMMARY="$OUT/suite_summary.txt"
: > "$SUMMARY"
FAILED=0

step() {
    local name=$1 limit=$2 needs="" module=""
    shift 2
    while [[ "${1:-}" == --needs || "${1:-}" == --module ]]; do
        if [[ "$1" == --needs ]]; then needs=$2; else module=$2; fi
        shift 2
    done
    [[ "${1:-}" == "--" ]] && shift
    local now left
    now=$(date +%s)
    left=$(( SUITE_BUDGET_S - (now - START) ))
    if [[ -n "$needs" && ! -e "$needs" ]]; then
        echo "=== [$name] skipped: $needs not found" | tee -a "$SUMMARY"
        return 0
    fi
    if [[ -n "$module" ]] && ! python -c "import $module" 2> /dev/null; then
        echo "=== [$name] skipped: python module $module not installed" | tee -a "$SUMMARY"
        return 0
    fi
    if (( left < 30 )); then
        echo "=== [$name] skipped: suite time budget spent (${left}s left)" | tee -a "$SUMMARY"
        FAILED=1
        return 0
    fi
    (( limit > left )) && limit=$left
    echo "=== [$name] (limit ${limit}s): $*"
    local t0 rc=0
    t0=$(date +%s)
    timeout --signal=TERM --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log" || rc=$?
    local dt=$(( $(date +%s) - t0 ))
    local verdict="ok"
    if (( rc == 124 || rc == 137 )); then verdict="TIMEOUT"; elif (( rc != 0 )); then verdict="FAILED rc=$rc"; fi
    [[ "$verdict" == "ok" ]] || FAILED=1
    echo "=== [$name] $verdict in ${dt}s (log $OUT/$name.log)" | tee -a "$SUMMARY"
}

env_info() {
    date -u
    hostname
    grep -m1 "model name" /proc/cpuinfo || true
    nproc
    if command -v nvidia-smi > /dev/null; then
        nvidia-smi -L
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
    else
        echo "nvidia-smi: not found"
    fi
    python - <<'EOF'
import jax, jaxlib
jax.config.update("jax_enable_x64", True)
print("jax", jax.__version__, "jaxlib", jaxlib.__version__, "backend", jax.default_backend(), jax.devices())
for mod in ("numpy", "scipy", "equinox", "diffrax", "optimistix", "optax"):
    try:
        print(mod, __import__(mod).__version__)
    except Exception as e:
        print(mod, "unavailable:", e)
EOF
}

export -f env_info

# ---- the steps (in order; add new benchmarks here) -------------------------------------------------------------
FP="python benchmarks/fixed_points.py"
step env 60 -- bash -c env_info
step test_fixed_points 100 --needs tests/test_fixed_points.py --module pytest -- python -m pytest -q -x -o addopts= -m "not slow" tests/test_fixed_points.py
step first_call 120 --needs benchmarks/first_call.py -- \
    python benchmarks/first_call.py --quick --only find_fixed_points,continue_equilibria --json "$OUT/first_call.json"
step bench_fixed_points_d2 180 --needs benchmarks/fixed_points.py -- \
    $FP --dims 2 --profile --json "$OUT/fixed_points_d2.json"
step bench_fixed_points_d32 150 --needs benchmarks/fixed_points.py -- \
    $FP --dims 32 --profile --json "$OUT/fixed_points_d32.json"
step bench_fixed_points_d2_1e6 90 --needs benchmarks/fixed_points.py -- \
    $FP --dims 2 --d2-params 1000000 --scipy-seconds 0 --no-first-call --check-params 64 \
    --json "$OUT/fixed_points_d2_1e6.json"
CONT="python benchmarks/continuation.py"
step bench_continuation_single 120 --needs benchmarks/continuation.py --module bifpy -- \
    $CONT --parts single --cold-repeats 1 --json "$OUT/continuation_single.json"
step bench_continuation_batch 300 --needs benchmarks/continuation.py --module jaxcont -- \
    $CONT --parts batch --dims 2,32 --n-branches-d2 1024 --n-branches-d32 1024 --jaxcont-seconds 20 --cold-repeats 1 \
    --json "$OUT/continuation_batch.json"
step bench_sweep 240 --needs benchmarks/sweep.py -- \
    python benchmarks/sweep.py --json "$OUT/sweep.json" --plot "$OUT/sweep.png"
step bench_cycles_homoclinic 240 --needs benchmarks/cycles.py -- \
    python benchmarks/cycles.py --parts homoclinic --n-values 1024,16384 --json "$OUT/cycles_homoclinic.json"

echo "=== summary ($(( $(date +%s) - START ))s of ${SUITE_BUDGET_S}s budget)"
cat "$SUMMARY"
exit "$FAILED"
