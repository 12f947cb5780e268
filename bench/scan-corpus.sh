#!/usr/bin/env bash
# Benchmark: one whole-process `amlguard scan` of every ARM template in
# ../shared/corpus beside one `checkov --framework arm` run on the same files,
# in the same run. Usage: bench/scan-corpus.sh [CHECKOV]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus
checkov=${1:-checkov}

cargo build --release --locked -p amlguard >/dev/null 2>&1
bin=$(pwd)/target/release/amlguard

tree=$(mktemp -d)
awk -F'\t' 'NR > 1 && ($4 == "arm-template" || $4 == "arm-parameters") { d = $1; gsub("/", "__", d); print d "/" $2 }' "$corpus/MANIFEST.tsv" |
while read -r f; do
  mkdir -p "$tree/$(dirname "$f")"
  ln -s "$(realpath "$corpus/$f")" "$tree/$f"
done
n=$(awk -F'\t' 'NR > 1 && $4 == "arm-template"' "$corpus/MANIFEST.tsv" | wc -l)

now() { date +%s.%N; }
runs=5
best=""
for _ in $(seq $runs); do
  start=$(now)
  "$bin" scan "$tree" --format json > /tmp/amlguard-scan-bench.json 2>/dev/null || true
  end=$(now)
  t=$(echo "$end - $start" | bc)
  if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
done
findings=$(python3 -c "import json; d=json.load(open('/tmp/amlguard-scan-bench.json')); print(sum(len(t['findings']) for t in d['templates']))")

ck="not run"
if command -v "$checkov" > /dev/null 2>&1; then
  start=$(now)
  "$checkov" -d "$tree" --framework arm --skip-download --quiet --compact -o json > /tmp/checkov-scan-bench.json 2>/dev/null || true
  end=$(now)
  ck=$(echo "$end - $start" | bc)
fi

echo "templates: $n (with their parameter files beside them)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -m), $(date -u +%Y-%m-%d)"
echo "amlguard scan (one process, best of $runs): ${best}s, $findings findings"
echo "checkov --framework arm (one process): ${ck}s"
if [ "$ck" != "not run" ]; then echo "ratio: $(echo "scale=1; $ck / $best" | bc)x"; fi
rm -rf "$tree"
