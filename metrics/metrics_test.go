package metrics_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"syncer/apply"
	"syncer/metrics"
	"syncer/metrics/metricstest"
)

// What /metrics serves passes promtool check metrics, and counts what the
// observer saw.
func TestServeMetrics(t *testing.T) {
	promtool := metricstest.Tool(t, "promtool")
	r := metrics.New("apply")
	stop, err := r.Serve("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	obs := r.Observer()
	obs.RunStarted(apply.RunInfo{Workers: 2})
	// Bytes count what each action moved: a resumed upload (60 of 100)
	// and a failed one (30) only what they sent.
	moved := []int64{100, 60, 30}
	for i, out := range []apply.Outcome{apply.Created, apply.Created, apply.Failed} {
		o := apply.Object{Sync: "photos", Key: "k" + string(rune('a'+i)), Action: "create", Bytes: 100}
		obs.ObjectStarted(o)
		o.Outcome, o.Elapsed, o.Transferred = out, time.Millisecond, moved[i]
		if out == apply.Failed {
			o.Err = errors.New("boom")
		}
		obs.ObjectFinished(o)
	}
	obs.ObjectStarted(apply.Object{Sync: "photos", Key: "slow", Action: "update", Bytes: 5})
	hook := r.RequestHook()
	hook("archive", "PutObject", 503)
	hook("archive", "PutObject", 200)
	hook("archive", "PutObject", 200)
	hook("team", "files.list", 0)
	retried := r.RetryHook()
	retried("archive", "throttled")
	retried("archive", "throttled")
	retried("team", "idle_timeout")
	r.Listed("photos", "source", 3)
	r.Finish("partial")
	resp, err := http.Get("http://" + r.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{
		`syncer_objects_total{operation="apply",result="created",sync="photos"} 2`,
		`syncer_objects_total{operation="apply",result="failed",sync="photos"} 1`,
		`syncer_bytes_total{operation="apply",result="created",sync="photos"} 160`,
		`syncer_bytes_total{operation="apply",result="failed",sync="photos"} 30`,
		`syncer_objects_in_flight{operation="apply"} 1`,
		`syncer_workers{operation="apply"} 2`,
		`syncer_run_outcome{operation="apply",outcome="partial"} 1`,
		`syncer_run_outcome{operation="apply",outcome="complete"} 0`,
		"syncer_run_start_time_seconds{operation=\"apply\"} ",
		"go_memstats_heap_inuse_bytes ",
		`syncer_backend_requests_total{backend="archive",code="200",operation="apply",request="PutObject"} 2`,
		`syncer_backend_requests_total{backend="archive",code="503",operation="apply",request="PutObject"} 1`,
		`syncer_backend_requests_total{backend="team",code="0",operation="apply",request="files.list"} 1`,
		`syncer_backend_throttled_total{backend="archive",operation="apply",request="PutObject"} 1`,
		`syncer_listed_objects{operation="apply",side="source",sync="photos"} 3`,
		`syncer_backend_retries_total{backend="archive",operation="apply",reason="throttled"} 2`,
		`syncer_backend_retries_total{backend="team",operation="apply",reason="idle_timeout"} 1`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	// A taken port is an error at once.
	if _, err := metrics.New("plan").Serve(r.Addr(), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "-metrics-addr") {
		t.Errorf("second Serve on %s: %v", r.Addr(), err)
	}
}

// A push URL must be http(s); its password is never printed.
func TestPushURL(t *testing.T) {
	_, err := metrics.New("apply").Push("ftp://u:secret@host/", "syncer", "", slog.New(slog.DiscardHandler))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Push(ftp://...) = %v", err)
	}
}
