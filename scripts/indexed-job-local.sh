#!/usr/bin/env bash
# Run an Indexed Job's pods as local processes: for each index I of the
# manifest's completions, its container's command and args (args with
# $(JOB_COMPLETION_INDEX) expanded to I, as Kubernetes does), with
# JOB_COMPLETION_INDEX=I in the environment as the Job controller sets it,
# and a fresh folder of its own for SYNCER_CACHE_DIR and TMPDIR (a pod's
# emptyDir). All indexes run at once (parallelism = completions).
#
#   scripts/indexed-job-local.sh [-n] MANIFEST WORKDIR
#
#   -n        print each index's command line (tab-separated) and run nothing
#   MANIFEST  e.g. k8s/indexed-job.yaml
#   WORKDIR   holds pod-I/ (cache) and pod-I.out, pod-I.err (its output)
#
# The container has no command, so the image's entrypoint, syncer, runs:
# $SYNCER_BIN (default: syncer on PATH). The rest of the pod's environment
# comes from the caller: SYNCER_CONFIG and the keys' variables, as the
# ConfigMap and Secret would give them.
#
# It exits 0 when every index exited 0; else 1, after printing each
# index's exit code.
set -euo pipefail

dry=0
if [[ "${1:-}" == "-n" ]]; then dry=1; shift; fi
if [[ $# -ne 2 ]]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
fi
manifest=$1 work=$2
bin=${SYNCER_BIN:-syncer}

field() { # the first "  NAME: VALUE" line of the manifest
	sed -n "s/^[[:space:]]*$1:[[:space:]]*\([^#[:space:]]*\).*/\1/p" "$manifest" | head -n1
}
grep -q '^[[:space:]]*completionMode:[[:space:]]*Indexed' "$manifest" ||
	{ echo "$manifest: not an Indexed Job (completionMode: Indexed)" >&2; exit 2; }
if grep -q '^[[:space:]]*command:' "$manifest"; then
	echo "$manifest: the container sets a command; this script runs the image's entrypoint (syncer) only" >&2
	exit 2
fi
completions=$(field completions)
parallelism=$(field parallelism)
[[ "$completions" =~ ^[1-9][0-9]*$ ]] || { echo "$manifest: completions \"$completions\" is not a positive number" >&2; exit 2; }
[[ "$parallelism" == "$completions" ]] ||
	{ echo "$manifest: parallelism $parallelism differs from completions $completions; this script runs all at once" >&2; exit 2; }

# args: a one-line flow sequence of double-quoted strings without quotes
# or commas inside, as in k8s/indexed-job.yaml.
line=$(grep -m1 '^[[:space:]]*args:[[:space:]]*\[' "$manifest") ||
	{ echo "$manifest: no one-line args: [...]" >&2; exit 2; }
line=${line#*[}
line=${line%]*}
mapfile -t args < <(grep -o '"[^"]*"' <<<"$line" | sed 's/^"//; s/"$//')
[[ ${#args[@]} -gt 0 ]] || { echo "$manifest: empty args" >&2; exit 2; }

mkdir -p "$work"
pids=()
for ((i = 0; i < completions; i++)); do
	argv=()
	for a in "${args[@]}"; do
		argv+=("${a//\$(JOB_COMPLETION_INDEX)/$i}")
	done
	if ((dry)); then
		(IFS=$'\t'; echo "$i	$bin	${argv[*]}")
		continue
	fi
	mkdir -p "$work/pod-$i"
	JOB_COMPLETION_INDEX=$i SYNCER_CACHE_DIR="$work/pod-$i" TMPDIR="$work/pod-$i" POD_NAME="local-$i" \
		"$bin" "${argv[@]}" >"$work/pod-$i.out" 2>"$work/pod-$i.err" &
	pids+=($!)
done
((dry)) && exit 0

failed=0
for ((i = 0; i < completions; i++)); do
	code=0
	wait "${pids[$i]}" || code=$?
	echo "index $i: exit $code"
	((code == 0)) || failed=1
done
exit $failed
