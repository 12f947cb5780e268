#!/usr/bin/env bash
# Benchmark: expand every ARM template of ../shared/corpus with amlguard, and run
# Checkov's ARM framework on the same files, in the same run.
#
#   bench/expand-corpus.sh [CHECKOV]      (CHECKOV defaults to `checkov` on PATH)
#
# amlguard runs once per template, as a user or CI would (a whole process each,
# JSON output written to /dev/null). Checkov runs once over a folder holding the
# same files (symbolic links), with --skip-download so it stays offline.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=../shared/corpus
checkov=${1:-checkov}

cargo build --release --locked -p amlguard >/dev/null 2>&1
bin=target/release/amlguard

list=$(mktemp)
awk -F'\t' 'NR > 1 && $4 == "arm-template" { d = $1; gsub("/", "__", d); print d "/" $2 }' "$corpus/MANIFEST.tsv" > "$list"
n=$(wc -l < "$list")

tree=$(mktemp -d)
while read -r f; do
  mkdir -p "$tree/$(dirname "$f")"
  ln -s "$(realpath "$corpus/$f")" "$tree/$f"
done < "$list"

now() { date +%s.%N; }

start=$(now)
while read -r f; do
  "$bin" expand "$corpus/$f" --format json > /dev/null 2>&1 || true
done < "$list"
end=$(now)
ag=$(echo "$end - $start" | bc)

ck="not run"
if command -v "$checkov" > /dev/null 2>&1; then
  start=$(now)
  "$checkov" -d "$tree" --framework arm --skip-download --quiet --compact -o json > /dev/null 2>&1 || true
  end=$(now)
  ck=$(echo "$end - $start" | bc)
fi

echo "templates: $n"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -m), $(date -u +%Y-%m-%d)"
echo "amlguard expand (one process per template): ${ag}s"
echo "checkov --framework arm (one process, same files): ${ck}s"
if [ "$ck" != "not run" ]; then
  echo "ratio: $(echo "scale=1; $ck / $ag" | bc)x"
fi
rm -rf "$tree" "$list"
