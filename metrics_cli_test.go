package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncer/metrics/metricstest"
)

// An apply with -metrics-push pushes its counts to a real Pushgateway
// (Debian's prometheus-pushgateway, started here), grouped by job and
// shard; -metrics-addr on a taken port fails before anything is done.
func TestApplyPushesMetrics(t *testing.T) {
	addr := metricstest.Pushgateway(t)

	dir := t.TempDir()
	for _, f := range []string{"src/a.txt", "src/b.txt"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("hello "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "dst"), 0o755)
	cfg := filepath.Join(dir, "syncer.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`backend "local" "src" {
  path = %q
}
backend "local" "dst" {
  path = %q
}
sync "s" {
  from = backend.local.src
  to   = backend.local.dst
}
state {
  path = %q
}
`, filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "syncer.db"))), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"apply", "-config", cfg, "-auto-approve", "-metrics-push", "http://" + addr}, nil, &out, &errOut); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	body := metricstest.Scrape(t, addr)
	for _, want := range []string{
		`syncer_objects_total{instance="",job="syncer",operation="apply",result="created",shard="all",sync="s"} 2`,
		`syncer_run_outcome{instance="",job="syncer",operation="apply",outcome="complete",shard="all"} 1`,
		`syncer_planned_objects{action="create",instance="",job="syncer",operation="apply",shard="all",sync="s"} 2`,
		`syncer_listed_objects{instance="",job="syncer",operation="apply",shard="all",side="source",sync="s"} 2`,
		`syncer_listed_objects{instance="",job="syncer",operation="apply",shard="all",side="destination",sync="s"} 0`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("pushgateway lacks %q", want)
		}
	}
	if t.Failed() {
		var lines []string
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "syncer_") {
				lines = append(lines, l)
			}
		}
		t.Logf("pushgateway's syncer metrics:\n%s", strings.Join(lines, "\n"))
	}

	// A shard's run is its own group.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"apply", "-config", cfg, "-auto-approve", "-shard", "0/2", "-metrics-push", "http://" + addr}, nil, &out, &errOut); code != 0 {
		t.Fatalf("apply -shard 0/2: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	body = metricstest.Scrape(t, addr)
	if want := `syncer_run_outcome{instance="",job="syncer",operation="apply",outcome="complete",shard="0/2"} 1`; !bytes.Contains(body, []byte(want)) {
		t.Errorf("pushgateway lacks %q", want)
	}
	if want := `syncer_objects_total{instance="",job="syncer",operation="apply",result="created",shard="all",sync="s"} 2`; !bytes.Contains(body, []byte(want)) {
		t.Errorf("the unsharded group was replaced: lacks %q", want)
	}

	// A taken -metrics-addr: exit 1, nothing applied.
	os.WriteFile(filepath.Join(dir, "src", "c.txt"), []byte("c"), 0o644)
	out.Reset()
	errOut.Reset()
	if code := run([]string{"apply", "-config", cfg, "-auto-approve", "-metrics-addr", addr}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "-metrics-addr") {
		t.Errorf("apply on a taken port: exit %d\n%s", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "dst", "c.txt")); err == nil {
		t.Errorf("c.txt copied by the refused apply")
	}
}
