#!/usr/bin/env bash
# Regenerate tests/data/original/: files exported by the original Int2Int (../shared/peers/int2int-original,
# run with --export_data true), 200 examples of each of its tasks in bases 10 and 1000, plus matrix_rank at another
# size. The tests load and train them (tests/test_compat.py): the original's files load unchanged in int2int.
# Usage: scripts/original-fixtures.sh [PATH_TO_ORIGINAL]
set -euo pipefail
cd "$(dirname "$0")/.."
original="$(realpath "${1:-../shared/peers/int2int-original}")"
out="$(pwd)/tests/data/original"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

export_task() {  # name, base, extra flags...
  local name="$1" base="$2"; shift 2
  local dir="$tmp/$name-$base"
  (cd "$original" && python train.py --cpu true --export_data true --base "$base" --epoch_size 200 --max_epoch 1 \
      --batch_size 20 --num_workers 0 --env_base_seed 1 --dump_path "$dir" --exp_name e --exp_id 1 "$@" \
      > "$dir.log" 2>&1) || { echo "export of $name (base $base) failed: see $dir.log" >&2; cat "$dir.log" >&2; exit 1; }
  head -n 200 "$dir/e/1/data.prefix" > "$out/$name-base$base.txt"
  echo "$out/$name-base$base.txt: $(wc -l < "$out/$name-base$base.txt") lines"
}

for base in 10 1000; do
  for op in gcd modular_add modular_mul; do export_task "$op" "$base" --operation "$op"; done
  for op in fraction_add fraction_product fraction_simplify fraction_round fraction_compare fraction_determinant; do
    export_task "$op" "$base" --operation "$op" --maxint 1000
  done
  export_task matrix_rank "$base" --operation matrix_rank --dim1 5 --dim2 5 --maxint 10
  export_task matrix_rank_3x4 "$base" --operation matrix_rank --dim1 3 --dim2 4 --maxint 10
done
