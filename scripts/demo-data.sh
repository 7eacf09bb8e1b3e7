#!/usr/bin/env bash
# Creates a small demo tree in $1/src (idempotent): documents, nested folders,
# awkward names and a tmp/ folder that the example config excludes.
set -euo pipefail
root=${1:?usage: demo-data.sh DIR}
src="$root/src"
mkdir -p "$src/notes/2026" "$src/images" "$src/tmp" "$src/café menu"
printf '# Welcome\n\nThis folder is synced by syncer.\n' > "$src/README.md"
for i in $(seq 1 20); do
  printf 'Note %d\n%s\n' "$i" "$(date -u +%F)" > "$src/notes/2026/note-$i.md"
done
head -c 3145728 /dev/urandom > "$src/images/photo.raw"
printf 'soupe du jour\n' > "$src/café menu/lundi #1.txt"
printf 'scratch\n' > "$src/tmp/scratch.txt"
: > "$src/.empty-marker"
echo "demo data in $src"
