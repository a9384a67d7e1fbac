#!/usr/bin/env bash
# Runs ClamAV's clamscan and portcullis side by side on the same generated signature database and the same
# generated mail corpus, and prints load time, throughput, peak memory and detections for both.
#
#   benches/vs-clamav.sh [--ndb 100000] [--hdb 1000000] [--mb 100] [--seed 1] [--ascii-frac 0]
#                        [--repeat 3] [--work DIR]
#
# Run from the project root. Needs clamscan and GNU time (Debian: apt-get install -y clamav time; no
# freshclam, no network). The database and corpus come from the project's own deterministic generator
# (examples/gen_synth.rs), the same for a seed on every machine, and are kept under --work (default
# target/vs-clamav) for the next run. Both scanners run single-threaded, interleaved, --repeat times; the
# table gives medians. "load" is the time to scan one tiny file (the database load); throughput is the corpus
# size divided by (corpus CPU time - load CPU time). portcullis loads the database twice: parsed from the
# text files, and from its compiled form (`portcullis compile`), which is what a daemon restart would use.
set -euo pipefail

ndb=100000 hdb=1000000 mb=100 seed=1 ascii=0 repeat=3 work=target/vs-clamav
while [ $# -gt 0 ]; do
    case "$1" in
        --ndb) ndb=$2; shift 2 ;;
        --hdb) hdb=$2; shift 2 ;;
        --mb) mb=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --ascii-frac) ascii=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        *) echo "unknown option $1 (see the first lines of $0)" >&2; exit 2 ;;
    esac
done
command -v clamscan >/dev/null || { echo "clamscan is missing: apt-get install -y clamav time" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install -y time" >&2; exit 2; }

cargo build --release --quiet --bin portcullis --example gen_synth
bin=target/release/portcullis
gen=target/release/examples/gen_synth
mkdir -p "$work"
db="$work/db-s$seed-n$ndb-h$hdb-a$ascii"
corpus="$work/corpus-s$seed-${mb}mb"
[ -d "$db" ] || "$gen" db --out "$db" --ndb "$ndb" --hdb "$hdb" --seed "$seed" --ascii-frac "$ascii"
[ -d "$corpus" ] || "$gen" corpus --out "$corpus" --mb "$mb" --seed "$seed"
"$bin" compile --database "$db" --output "$db.pcdb" >/dev/null
tiny="$work/tiny.txt"
echo "a tiny clean file that times the database load" >"$tiny"
bytes=$(cat "$corpus"/*.eml | wc -c)
expected=$(wc -l <"$corpus.expected")

# run NAME CMD...: appends "wall cpu rss_kib" to $work/NAME.times; stdout to $work/NAME.out.
run() {
    local name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.tmp" "$@" >"$work/$name.out" 2>/dev/null || true
    # GNU time puts "Command exited with non-zero status 1" first when something was found.
    tail -n 1 "$work/time.tmp" | awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' >>"$work/$name.times"
}
for kind in clam_load port_load port_cload clam_scan port_scan; do : >"$work/$kind.times"; done
for _ in $(seq "$repeat"); do
    run clam_load clamscan --no-summary --database="$db" "$tiny"
    run port_load "$bin" scan --no-summary --no-default-db --database "$db" "$tiny"
    run port_cload "$bin" scan --no-summary --compiled "$db.pcdb" "$tiny"
    run clam_scan clamscan --no-summary --database="$db" -r "$corpus"
    run port_scan "$bin" scan --no-summary --compiled "$db.pcdb" -r "$corpus"
done

# median NAME FIELD (1 wall, 2 cpu, 3 rss)
median() { awk -v f="$2" '{ print $f }' "$work/$1.times" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# "file name" pairs a scanner reported, one per line, sorted.
found() { sed -n 's|^.*/\([^/:]*\): \(.*\) FOUND$|\1 \2|p' "$work/$1.out" | sed 's/\.UNOFFICIAL$//' | sort -u; }
found clam_scan >"$work/clam.found"
found port_scan >"$work/port.found"
sort -u "$corpus.expected" >"$work/expected.sorted"

cl=$(median clam_load 2) pl=$(median port_load 2) pc=$(median port_cload 2)
cs=$(median clam_scan 2) ps=$(median port_scan 2)
awk -v mb="$(echo "$bytes" | awk '{ print $1 / 1048576 }')" \
    -v cl="$cl" -v pl="$pl" -v pc="$pc" -v cs="$cs" -v ps="$ps" \
    -v clw="$(median clam_load 1)" -v plw="$(median port_load 1)" -v pcw="$(median port_cload 1)" \
    -v cr="$(median clam_scan 3)" -v pr="$(median port_scan 3)" \
    -v clr="$(median clam_load 3)" -v plr="$(median port_load 3)" -v pcr="$(median port_cload 3)" \
    -v ce="$(comm -12 "$work/clam.found" "$work/expected.sorted" | wc -l)" \
    -v pe="$(comm -12 "$work/port.found" "$work/expected.sorted" | wc -l)" \
    -v cx="$(comm -23 "$work/clam.found" "$work/expected.sorted" | wc -l)" \
    -v px="$(comm -23 "$work/port.found" "$work/expected.sorted" | wc -l)" \
    -v n="$expected" -v ndb="$ndb" -v hdb="$hdb" -v repeat="$repeat" 'BEGIN {
    ct = mb / (cs - cl); pt = mb / (ps - pc)
    printf "database: %d .ndb + %d .hdb (+ planted); corpus: %.1f MiB of mail; medians of %d runs, one core\n\n", ndb, hdb, mb, repeat
    printf "| measure | clamscan | portcullis | ratio |\n|---|---|---|---|\n"
    printf "| load, text database (CPU s) | %.2f | %.2f | %.1fx faster |\n", cl, pl, cl / pl
    printf "| load, compiled database (CPU s) | - | %.2f | %.1fx faster |\n", pc, cl / pc
    printf "| load wall time, text / compiled (s) | %.2f | %.2f / %.2f | |\n", clw, plw, pcw
    printf "| peak memory after load, text / compiled (MiB) | %.0f | %.0f / %.0f | %.2f of clamscan (compiled) |\n", clr / 1024, plr / 1024, pcr / 1024, pcr / clr
    printf "| peak memory scanning the corpus (MiB) | %.0f | %.0f | %.2f of clamscan |\n", cr / 1024, pr / 1024, pr / cr
    printf "| corpus CPU time (s) | %.2f | %.2f | |\n", cs, ps
    printf "| throughput, load subtracted (MB/s) | %.1f | %.1f | %.0fx |\n", ct, pt, pt / ct
    printf "| planted detections found (of %d) | %d | %d | |\n", n, ce, pe
    printf "| other detections | %d | %d | |\n", cx, px
}'
echo
if diff <(cat "$work/clam.found") <(cat "$work/port.found") >/dev/null; then
    echo "detections: identical on every file"
else
    echo "detections that differ (< clamscan only, > portcullis only):"
    diff "$work/clam.found" "$work/port.found" | grep '^[<>]' || true
fi
