#!/usr/bin/env bash
# Installs what the tests need beyond Go and gcc, and prints the path of the
# S3 test server:
#   - versitygw, the real S3-compatible server the S3 tests start on
#     127.0.0.1 (built once into ~/.cache: about 2 minutes the first time);
#   - rclone (Debian's package), the independent client the S3 end-to-end
#     tests read buckets back with;
#   - promtool and prometheus-pushgateway (Debian's packages) for the
#     metrics tests;
#   - actionlint, which lints the GitHub Actions example (go install, into
#     $(go env GOPATH)/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v rclone >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		echo "test-deps: installing rclone" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone; } >&2
	else
		echo "test-deps: rclone is missing; install Debian's rclone package (sudo apt-get install rclone)" >&2
	fi
fi
# promtool (Debian's prometheus) checks what -metrics-addr serves; the
# metrics tests push to a prometheus-pushgateway they start on 127.0.0.1.
if ! command -v promtool >/dev/null || ! command -v prometheus-pushgateway >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		echo "test-deps: installing prometheus (promtool) and prometheus-pushgateway" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-pushgateway; } >&2
	else
		echo "test-deps: promtool or prometheus-pushgateway is missing; install Debian's prometheus and prometheus-pushgateway packages" >&2
	fi
fi
if ! command -v actionlint >/dev/null && [ ! -x "$(go env GOPATH)/bin/actionlint" ]; then
	echo "test-deps: installing actionlint" >&2
	go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 >&2
fi
scripts/s3-server.sh install
