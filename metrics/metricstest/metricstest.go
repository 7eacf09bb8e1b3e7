// Package metricstest starts the real Prometheus tools the tests check
// syncer's metrics with (Debian's packages; scripts/test-deps.sh installs
// them).
package metricstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Tool finds a program of the Prometheus packages; missing is a failure
// in CI (CI set), else a skip.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: run scripts/test-deps.sh", name)
		}
		t.Skipf("%s is missing: run scripts/test-deps.sh", name)
	}
	return p
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Pushgateway starts prometheus-pushgateway on 127.0.0.1 until the test
// ends and returns its address (host:port) once it is ready.
func Pushgateway(t testing.TB) string {
	t.Helper()
	gw := Tool(t, "prometheus-pushgateway")
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, gw, "--web.listen-address="+addr, "--persistence.file="+filepath.Join(t.TempDir(), "pg.data"))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr
			}
		}
		if i == 200 {
			t.Fatalf("pushgateway not ready: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Scrape returns what addr serves at /metrics.
func Scrape(t testing.TB, addr string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s/metrics: %d %v", addr, resp.StatusCode, err)
	}
	return body
}
