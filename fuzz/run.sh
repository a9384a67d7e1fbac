#!/usr/bin/env bash
# Fuzz every target for SECONDS each (default 60), seeded from corpus/ and generated cases.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Installs cargo-fuzz from crates.io if missing; needs the nightly toolchain (on this kind of machine).
# A crash fails the run; its input is left in fuzz/artifacts/TARGET/ and should become a regression
# case in fuzz/regressions/TARGET/ (replayed by tests/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
# Seeds: the corpus messages for the message-level targets, regression cases for all.
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  case "$t" in
    scan_bytes|chunked_session|long_body_session|forwarded_session|mime_walker|mime_headers) cp ../corpus/*.eml "corpus/$t/" 2>/dev/null || true ;;
  esac
  if [ -d "regressions/$t" ]; then cp regressions/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
done
cargo +nightly fuzz build -O
status=0
# Memory: a database target may legitimately expand a gzipped database toward its 2 GiB cap, so the limits
# are set above that (the machine has 24 GiB); a real leak still trips them.
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds}s"
  if ! cargo +nightly fuzz run -O "$t" "corpus/$t" -- -dict=dict/mime.dict -max_total_time="$seconds" \
        -rss_limit_mb=6144 -malloc_limit_mb=6144 -timeout=30 -print_final_stats=1 2> "corpus/$t.log"; then
    if ls "artifacts/$t"/* >/dev/null 2>&1; then
      echo "!! $t found a crash (input in fuzz/artifacts/$t/):" >&2
    else
      echo "!! $t did not run:" >&2
    fi
    tail -n 40 "corpus/$t.log" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "corpus/$t.log" | sed "s/^/   $t /" || true
done
exit $status
