#!/usr/bin/env bash
# CRTR paper-scale claims on one GPU within one 8-minute budget (issue 18, part 4).
# Untested on a GPU (none was lent to issue 18). Usage:
#   bash benchmarks/crtr_paper_gpu.sh          # GPU: --scale paper --device cuda
#   DRY=1 bash benchmarks/crtr_paper_gpu.sh    # CPU dry path: the same loop at smoke
# Each claim gets an equal share of BUDGET_S (default 480 s) via `timeout`; a claim that
# runs past its share is reported as TIMEOUT, never as a verdict. SEEDS (default 1) keeps
# the paper scale's 1e5-step recipe but fewer seeds than the claim file's 5: a 1-seed run
# measures time and plumbing on the GPU; verdicts need the claim's own seed count.
set -u
BUDGET_S=${BUDGET_S:-480}
CLAIMS=${CLAIMS:-"crtr_pocket_search crtr_cube_greedy_short crtr_cube_length_vs_kociemba crtr_cube_no_search_paper"}
if [ "${DRY:-0}" = 1 ]; then scale=(--scale smoke --device cpu); else scale=(--scale paper --device cuda --seeds "${SEEDS:-1}"); fi
n=$(wc -w <<<"$CLAIMS"); share=$((BUDGET_S / n))
echo "crtr_paper_gpu: ${scale[*]}, ${n} claims, ${share} s each"
for c in $CLAIMS; do
  t0=$(date +%s)
  timeout "$share" repro run "claims/$c.yaml" "${scale[@]}" >"/tmp/crtr_gpu_$c.log" 2>&1
  rc=$?
  tail -n 3 "/tmp/crtr_gpu_$c.log"
  [ "$rc" = 124 ] && echo "$c: TIMEOUT after ${share} s"
  echo "$c: rc=$rc wall=$(( $(date +%s) - t0 )) s"
done
