#!/usr/bin/env bash
# Runs one fuzz target at low priority on one core and records its stats.
# Usage: scripts/run.sh <target> [seconds]   (default 600)
# Writes logs/<target>-<UTC time>.log; the corpus grows in corpus/<target>/,
# crashes land in artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1
secs=${2:-600}
mkdir -p logs "corpus/$target"
dict=()
[ -f "dicts/$target.dict" ] && dict=("-dict=dicts/$target.dict")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
log="logs/$target-$stamp.log"
rm -f fuzz-0.log
echo "start $(date -u +%FT%TZ) target=$target secs=$secs corpus_before=$(ls "corpus/$target" | wc -l)" | tee "$log.meta"
set +e
RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz run "$target" -- \
  -max_total_time="$secs" -jobs=1 -workers=1 -timeout=20 -print_final_stats=1 "${dict[@]}"
rc=$?
set -e
[ -f fuzz-0.log ] && mv fuzz-0.log "$log"
echo "end $(date -u +%FT%TZ) rc=$rc corpus_after=$(ls "corpus/$target" | wc -l) artifacts=$(ls "artifacts/$target" 2>/dev/null | wc -l)" | tee -a "$log.meta"
grep -E "^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::)" "$log" | tail -8 || true
exit $rc
