#!/usr/bin/env bash
# The GPU figures of issue 14 (docs/performance.md) in one call, on a machine with a CUDA build of torch:
# packed tiny runs (8, 32, 128) against the same runs one after the other, in fp32 and bf16; a training step of the
# bench's three models in fp32 and bf16; and compiled steps (hardware.compile). Everything printed is also written
# to $OUT/gpu-figures.txt (OUT: ./gpu-figures unless set).
#
#   bash scripts/gpu-figures.sh --fetch-wheels   # here, where pip reaches its index: the pure-Python packages
#                                                # int2int needs beyond torch, numpy and pandas, into .whl/
#   bash scripts/gpu-figures.sh                  # there, with .whl/ carried (it is git-ignored): installs them in
#                                                # /tmp/site first when hydra is missing
#   DEVICE=cpu QUICK=1 bash scripts/gpu-figures.sh   # every step, small, on the CPU: a check of the script
#
# Each step has its own time limit (STEP_LIMIT seconds, 150 by default), so that one slow step (a compilation)
# cannot take the others' time, and the script ends within TOTAL_LIMIT seconds (540: inside the device tool's 600 s
# per call): a step that fails or runs out of time is reported and the next one runs; those left are skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(hydra-core==1.3.8 omegaconf==2.3.1 hydra-submitit-launcher==1.2.0 hydra-joblib-launcher==1.2.0
        submitit==1.5.4)
if [[ "${1:-}" == "--fetch-wheels" ]]; then
    mkdir -p .whl
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform any -d .whl "${WHEELS[@]}" || exit 1
    python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3 || exit 1  # published as source only
    ls .whl
    exit 0
fi

DEVICE=${DEVICE:-cuda}
STEP_LIMIT=${STEP_LIMIT:-150}
TOTAL_LIMIT=${TOTAL_LIMIT:-540}
OUT=${OUT:-gpu-figures}
mkdir -p "$OUT"
LOG="$OUT/gpu-figures.txt"
: >"$LOG"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
if [[ -d .whl ]] && ! python3 -c "import hydra" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "installing .whl/ failed" | tee -a "$LOG"; exit 1; }
    export PYTHONPATH="/tmp/site:$PWD"
fi

step() {  # step TITLE COMMAND...: run one measurement under its time limit, its output into the log
    local t0=$SECONDS left=$((TOTAL_LIMIT - SECONDS)) limit=$STEP_LIMIT
    if ((left < 10)); then
        echo "=== $1: skipped, the script's ${TOTAL_LIMIT} s are spent" | tee -a "$LOG"
        return
    fi
    ((limit > left)) && limit=$left
    echo "=== $1: ${*:2}" | tee -a "$LOG"
    timeout "$limit" "${@:2}" 2>&1 | grep -v -e "Warning" -e "warnings.warn" | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $1: exit $rc after $((SECONDS - t0)) s$([[ $rc == 124 ]] && echo ", over its ${limit} s limit")" \
        | tee -a "$LOG"
}

if [[ -n "${QUICK:-}" ]]; then
    RUNS=(2 4); PACK=(--steps 2 --repeats 1); MODELS=(tiny); PROF=(--steps 5)
else
    RUNS=(8 32 128); PACK=(--steps 10 --repeats 3); MODELS=(tiny small default); PROF=(--steps 50)
fi

step machine python3 -c "import torch, platform; print(platform.python_version(), torch.__version__,
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA', torch.get_num_threads(), 'threads')"
step "packed fp32" python3 -m int2int.bench_packed --runs "${RUNS[@]}" --device "$DEVICE" "${PACK[@]}"
step "step fp32" python3 -m int2int.profile_step --model "${MODELS[@]}" --device "$DEVICE" "${PROF[@]}"
step "step bf16" python3 -m int2int.profile_step --model "${MODELS[@]}" --device "$DEVICE" --precision bf16 "${PROF[@]}"
step "packed bf16" python3 -m int2int.bench_packed --runs "${RUNS[@]}" --device "$DEVICE" --precision bf16 "${PACK[@]}"
for model in "${MODELS[@]}"; do
    step "compiled $model bf16" python3 -m int2int.profile_step --model "$model" --device "$DEVICE" --precision bf16 \
        --compile "${PROF[@]}"
done
echo "log: $LOG"
