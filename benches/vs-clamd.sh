#!/usr/bin/env bash
# Latency after the end of DATA, portcullis next to clamd, on the same messages and the same signatures.
#
#   benches/vs-clamd.sh [--ndb 100000 | --db DIR] [--repeat 20] [--zip] [--nested] [--text] [--forwarded] [--work DIR]
#
# Run from the project root. Needs clamd (Debian: apt-get install -y clamav-daemon; no freshclam, no
# network). Generates a database of --ndb random body signatures with the project's generator
# (examples/gen_synth.rs), or takes the database in DIR (the official one in ../shared/data/signatures/
# clamav-official, say; its gzipped files are unpacked for clamd, which reads them only plain),
# compiles it for portcullis, starts a clamd of its own on a Unix socket under
# --work (default target/vs-clamd) with that database and limits raised so that 25 MB messages are
# scanned whole, runs examples/latency.rs against both, and stops clamd.
set -euo pipefail

ndb=100000 repeat=20 zip="" nested="" text="" forwarded="" work=target/vs-clamd from=""
while [ $# -gt 0 ]; do
    case "$1" in
        --ndb) ndb=$2; shift 2 ;;
        --db) from=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --zip) zip=--zip; shift ;;
        --nested) nested=--nested; shift ;;
        --text) text=--text; shift ;;
        --forwarded) forwarded=--forwarded; shift ;;
        --work) work=$2; shift 2 ;;
        *) echo "unknown option $1 (see the first lines of $0)" >&2; exit 2 ;;
    esac
done
clamd=$(command -v clamd || echo /usr/sbin/clamd)
[ -x "$clamd" ] || { echo "clamd is missing: apt-get install -y clamav-daemon" >&2; exit 2; }

cargo build --release --quiet --bin portcullis --example gen_synth --example latency
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ -n "$from" ]; then
    db="$work/db-$(basename "$from")"
    rm -rf "$db" && mkdir -p "$db"
    for f in "$from"/*; do
        case "$f" in
            *.gz) gunzip -c "$f" >"$db/$(basename "${f%.gz}")" ;;
            *.hdb|*.hsb|*.ndb|*.ldb|*.fp|*.sfp|*.ign2|*.cvd|*.cld|*.cdb|*.cfg|*.ftm|*.pdb|*.wdb|*.info) cp "$f" "$db/" ;;
        esac
    done
else
    db="$work/db-n$ndb"
    [ -d "$db" ] || target/release/examples/gen_synth db --out "$db" --ndb "$ndb" --hdb 0
fi
target/release/portcullis compile --database "$db" --output "$db.pcdb" >/dev/null
cat >"$work/clamd.conf" <<CONF
LocalSocket $work/clamd.sock
DatabaseDirectory $db
Foreground yes
LogFile $work/clamd.log
PidFile $work/clamd.pid
MaxThreads 2
StreamMaxLength 100M
MaxScanSize 400M
MaxFileSize 100M
CONF
rm -f "$work/clamd.sock"
"$clamd" --config-file="$work/clamd.conf" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    [ -S "$work/clamd.sock" ] && break
    kill -0 $pid 2>/dev/null || { echo "clamd failed to start: see $work/clamd.log" >&2; exit 1; }
    sleep 0.2
done
[ -S "$work/clamd.sock" ] || { echo "clamd did not open its socket" >&2; exit 1; }
target/release/examples/latency --compiled "$db.pcdb" --clamd "$work/clamd.sock" --repeat "$repeat" $zip $nested $text $forwarded
