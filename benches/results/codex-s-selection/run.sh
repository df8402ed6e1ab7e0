#!/bin/bash
# CoDEx-S candidates from BENCHMARKS.md rows 3-4 and note 3, chosen on validation MRR only.
# Run from the repository root after `cargo build` (the dev profile optimises our crate).
B=${STOCKTAKE:-${CARGO_TARGET_DIR:-target}/debug/stocktake}
D=${CODEX_S:-../shared/data/kg/codex-s}
mkdir -p ${OUT:-/tmp/codex}
COMMON="--tsv $D --no-catalog --data ${OUT:-/tmp/codex}/data --format json --threads 2 --eval-every 10 --patience 3 --seed 42"
run() { name=$1; shift; echo "== $name: $*"; /usr/bin/time -f "%e s" $B train $COMMON --out ${OUT:-/tmp/codex}/$name.stk "$@" > ${OUT:-/tmp/codex}/$name.json 2> ${OUT:-/tmp/codex}/$name.log; tail -1 ${OUT:-/tmp/codex}/$name.log; cat ${OUT:-/tmp/codex}/$name.json | head -c 600; echo; }
run row3 --dim 128 --negatives 128 --loss softmax --lr 0.05 --batch-size 512 --epochs 100
run row4 --dim 128 --negatives 256 --loss softmax --lr 0.05 --batch-size 512 --epochs 150
run selfadv --dim 128 --negatives 128 --loss self-adversarial --margin 6 --lr 0.05 --batch-size 512 --epochs 150
run cosine --dim 128 --negatives 128 --loss softmax --lr 0.1 --schedule cosine --batch-size 512 --epochs 150
run dim256 --dim 256 --negatives 256 --loss softmax --lr 0.05 --batch-size 512 --epochs 150
echo done
# Then, once, for the validation choice among these: $B eval --model $OUT/cosine.stk --tsv $D --split test
