#!/usr/bin/env bash
# Real S3-compatible server (versitygw) for syncer's tests and examples.
#
#   scripts/s3-server.sh install      build versitygw v1.8.0 once into the cache
#                                     (skipped when present); prints its path
#   scripts/s3-server.sh path         print the binary's path (fails if absent)
#   scripts/s3-server.sh start DIR    start three servers on 127.0.0.1 with data,
#                                     logs and pids in DIR, and write DIR/env
#   scripts/s3-server.sh stop DIR     stop them
#
# The Go tests (backends/s3) start their own servers on free ports from
# TestMain: they only need the binary, found through SYNCER_VERSITYGW or the
# cache path below. In CI (CI=true) a missing binary fails those tests.
#
# `start` is for examples, benchmarks and manual runs. Its servers:
#   :7070  plain HTTP, keys A   (account A)   buckets legacy-media, test
#   :7071  plain HTTP, keys B   (account B)   buckets media-archive, test
#   :7443  HTTPS (self-signed)  keys A        bucket test
# and DIR/env sets SYNCER_S3_ENDPOINT, SYNCER_S3_KEY, SYNCER_S3_SECRET,
# SYNCER_S3_ENDPOINT_B, SYNCER_S3_KEY_B, SYNCER_S3_SECRET_B,
# SYNCER_S3_TLS_ENDPOINT and SYNCER_S3_CA (the certificate to trust).
# Ports can be changed with SYNCER_S3_PORT_A, _B and _TLS.
set -euo pipefail

VERSION=v1.8.0
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/syncer/versitygw-$VERSION"
BIN="$CACHE/versitygw"

KEY_A=syncer-key-a SECRET_A=syncer-secret-a
KEY_B=syncer-key-b SECRET_B=syncer-secret-b

die() { echo "s3-server.sh: $*" >&2; exit 1; }

install() {
	if [ -x "$BIN" ]; then
		echo "$BIN"
		return
	fi
	command -v go >/dev/null || die "go is not installed"
	mkdir -p "$(dirname "$CACHE")"
	local tmp
	tmp=$(mktemp -d "$CACHE.tmp.XXXXXX")
	echo "s3-server.sh: building versitygw $VERSION (about 2 minutes on a cold cache)" >&2
	# Outside the module, so syncer's go.mod is not consulted or changed.
	(cd "$tmp" && GOBIN="$tmp" go install "github.com/versity/versitygw/cmd/versitygw@$VERSION") ||
		{ rm -rf "$tmp"; die "go install versitygw failed"; }
	rm -rf "$CACHE"
	mkdir -p "$CACHE"
	mv "$tmp/versitygw" "$BIN"
	rm -rf "$tmp"
	echo "$BIN"
}

path() {
	[ -x "$BIN" ] || die "versitygw is not installed: run $0 install"
	echo "$BIN"
}

# sigv4 METHOD URL KEY SECRET [DATA]: one signed request with curl.
sigv4() {
	local method=$1 url=$2 key=$3 secret=$4 data=${5-}
	local sha
	sha=$(printf '%s' "$data" | sha256sum | cut -d' ' -f1)
	curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "${@:6}" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
		-H "x-amz-content-sha256: $sha" -X "$method" --data-binary "$data" "$url" 2>/dev/null || true
}

# start_one NAME PORT KEY SECRET [--cert C --key K]
start_one() {
	local dir=$1 name=$2 port=$3 key=$4 secret=$5
	shift 5
	mkdir -p "$dir/$name/data"
	ROOT_ACCESS_KEY=$key ROOT_SECRET_KEY=$secret nohup "$BIN" --port "127.0.0.1:$port" "$@" \
		posix "$dir/$name/data" >"$dir/$name/versitygw.log" 2>&1 &
	echo $! >"$dir/$name/pid"
}

# ready URL KEY SECRET BUCKET... : wait until buckets are made and a write works.
ready() {
	local url=$1 key=$2 secret=$3
	shift 3
	local extra=()
	case $url in https:*) extra=(--cacert "$DIR/tls/cert.pem") ;; esac
	for _ in $(seq 1 100); do
		local ok=1 b
		for b in "$@"; do
			case $(sigv4 PUT "$url/$b" "$key" "$secret" "" "${extra[@]}") in
			200 | 409) ;;
			*) ok=0 ;;
			esac
		done
		if [ $ok = 1 ] && [ "$(sigv4 PUT "$url/$1/.syncer-ready" "$key" "$secret" ok "${extra[@]}")" = 200 ]; then
			sigv4 DELETE "$url/$1/.syncer-ready" "$key" "$secret" "" "${extra[@]}" >/dev/null
			return 0
		fi
		sleep 0.1
	done
	return 1
}

start() {
	DIR=${1:?usage: $0 start DIR}
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	path >/dev/null
	command -v curl >/dev/null || die "curl is needed to check that the servers are up"
	command -v openssl >/dev/null || die "openssl is needed for the TLS server's certificate"
	local pa=${SYNCER_S3_PORT_A:-7070} pb=${SYNCER_S3_PORT_B:-7071} pt=${SYNCER_S3_PORT_TLS:-7443}
	mkdir -p "$DIR/tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj "/CN=syncer test server" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null || die "openssl failed"
	start_one "$DIR" a "$pa" "$KEY_A" "$SECRET_A"
	start_one "$DIR" b "$pb" "$KEY_B" "$SECRET_B"
	start_one "$DIR" tls "$pt" "$KEY_A" "$SECRET_A" --cert "$DIR/tls/cert.pem" --key "$DIR/tls/key.pem"
	ready "http://127.0.0.1:$pa" "$KEY_A" "$SECRET_A" test legacy-media || { stop "$DIR"; die "server A did not start; see $DIR/a/versitygw.log"; }
	ready "http://127.0.0.1:$pb" "$KEY_B" "$SECRET_B" test media-archive || { stop "$DIR"; die "server B did not start; see $DIR/b/versitygw.log"; }
	ready "https://127.0.0.1:$pt" "$KEY_A" "$SECRET_A" test || { stop "$DIR"; die "TLS server did not start; see $DIR/tls/versitygw.log"; }
	cat >"$DIR/env" <<EOF
export SYNCER_S3_ENDPOINT=http://127.0.0.1:$pa
export SYNCER_S3_KEY=$KEY_A
export SYNCER_S3_SECRET=$SECRET_A
export SYNCER_S3_ENDPOINT_B=http://127.0.0.1:$pb
export SYNCER_S3_KEY_B=$KEY_B
export SYNCER_S3_SECRET_B=$SECRET_B
export SYNCER_S3_TLS_ENDPOINT=https://127.0.0.1:$pt
export SYNCER_S3_CA=$DIR/tls/cert.pem
EOF
	echo "s3-server.sh: servers up; . $DIR/env"
}

stop() {
	DIR=${1:?usage: $0 stop DIR}
	local name pid
	for name in a b tls; do
		[ -f "$DIR/$name/pid" ] || continue
		pid=$(cat "$DIR/$name/pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$DIR/$name/pid"
	done
}

case ${1-} in
install) install ;;
path) path ;;
start) start "${2-}" ;;
stop) stop "${2-}" ;;
*) die "usage: $0 install | path | start DIR | stop DIR" ;;
esac
