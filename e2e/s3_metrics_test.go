package e2e

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"syncer/backends/s3/s3test"
	"syncer/metrics/metricstest"
)

// An apply whose uploads meet two 503 SlowDowns and a 500 on the way to
// the server pushes syncer_backend_retries_total with exactly those
// retries, by reason, and nothing else retried.
func TestS3MetricsCountRetries(t *testing.T) {
	env := needS3(t)
	l := newLayout(t)
	for _, f := range []string{"a.txt", "b/c.txt", "d.txt"} {
		writeFile(t, filepath.Join(l.Src, f), []byte("retried "+f))
	}
	bucket := newS3Bucket(t, env.A, "retries")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var puts atomic.Int64
	proxy.Fail = func(op string, _ *http.Request) (int, string) {
		if op != "PutObject" {
			return 0, ""
		}
		switch puts.Add(1) {
		case 1, 2:
			return http.StatusServiceUnavailable, "SlowDown"
		case 3:
			return http.StatusInternalServerError, "InternalError"
		}
		return 0, ""
	}
	writeHCL(t, l.Config, l.State, nil, localBlock("src", l.Src),
		s3Block{Name: "bucket", Srv: env.A, Endpoint: proxy.URL, Bucket: bucket}.hcl(env),
		syncBlock(syncName, "backend.local.src", "backend.s3.bucket"))
	gw := metricstest.Pushgateway(t)
	res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config, "-metrics-push", "http://"+gw)
	mustCode(t, "apply", res, 0, "3 created")
	var got []string
	for _, line := range strings.Split(string(metricstest.Scrape(t, gw)), "\n") {
		if strings.HasPrefix(line, "syncer_backend_retries_total{") {
			got = append(got, line)
		}
	}
	want := []string{
		`syncer_backend_retries_total{backend="bucket",instance="",job="syncer",operation="apply",reason="server_error",shard="all"} 1`,
		`syncer_backend_retries_total{backend="bucket",instance="",job="syncer",operation="apply",reason="throttled",shard="all"} 2`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("retries pushed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
