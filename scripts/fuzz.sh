#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another, single job, for a given time each.
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default: 600 s, every target)
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Not part of
# scripts/test.sh: CI may not have nightly. The property tests in tests/properties.rs run there.
# The working corpus grows in fuzz/corpus/<target> (ignored by git); the committed seeds in
# fuzz/seeds/<target> are read but never written. Findings land in fuzz/artifacts/<target>.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-600}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  echo "== $target: ${seconds}s"
  # -timeout: a unit slower than 5 s is a finding (parsing must stay linear); -max_len covers
  # the largest record (8 KiB) and realistic Cookie headers.
  if ! cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -timeout=5 -max_len=9000 \
      -rss_limit_mb=2048 -print_final_stats=1; then
    echo "!! $target found a problem: see fuzz/artifacts/$target" >&2
    status=1
  fi
done
exit "$status"
