package apply_test

import (
	"path/filepath"
	"strings"
	"testing"

	"syncer/apply"
	"syncer/config"
	"syncer/plan"
)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name  string
		stats plan.SizeStats
		want  apply.Pattern
	}{
		{"empty", plan.SizeStats{}, apply.Unknown},
		{"all small", plan.SizeStats{Count: 100, Small: 100, Bytes: 100 * kib}, apply.ManySmall},
		{"80% small", plan.SizeStats{Count: 10, Small: 8, Bytes: 8*kib + 2*10*mib}, apply.ManySmall},
		{"mostly small by count, mostly large by bytes", plan.SizeStats{Count: 10, Small: 9, Large: 1, Bytes: 9*kib + 1024*mib, LargeBytes: 1024 * mib}, apply.ManySmall},
		{"79% small, no large", plan.SizeStats{Count: 100, Small: 79, Bytes: 79*kib + 21*10*mib}, apply.Mixed},
		{"large bytes", plan.SizeStats{Count: 10, Small: 5, Large: 5, Bytes: 5*kib + 5*100*mib, LargeBytes: 5 * 100 * mib}, apply.LargeFiles},
		{"exactly 80% large bytes", plan.SizeStats{Count: 2, Large: 1, Bytes: 100 * mib, LargeBytes: 80 * mib}, apply.LargeFiles},
		{"one large file", plan.SizeStats{Count: 1, Large: 1, Bytes: 64 * mib, LargeBytes: 64 * mib}, apply.LargeFiles},
		{"medium files", plan.SizeStats{Count: 10, Bytes: 10 * 10 * mib}, apply.Mixed},
		{"half large bytes", plan.SizeStats{Count: 10, Small: 2, Large: 1, Bytes: 200 * mib, LargeBytes: 100 * mib}, apply.Mixed},
		{"mostly unknown", plan.SizeStats{Count: 10, Unknown: 6, Small: 4, Bytes: 4 * kib}, apply.Unknown},
		{"all unknown", plan.SizeStats{Count: 3, Unknown: 3}, apply.Unknown},
		{"half unknown is not mostly", plan.SizeStats{Count: 10, Unknown: 5, Bytes: 5 * 10 * mib}, apply.Mixed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := apply.Classify(c.stats); got != c.want {
				t.Errorf("Classify(%+v) = %s; want %s", c.stats, got, c.want)
			}
		})
	}
}

// Representative stats for each pattern.
var patternStats = map[apply.Pattern]plan.SizeStats{
	apply.ManySmall:  {Count: 1000, Small: 1000, Bytes: 1000 * 10 * kib},
	apply.Mixed:      {Count: 10, Small: 5, Bytes: 5*kib + 5*10*mib},
	apply.LargeFiles: {Count: 4, Large: 4, Bytes: 4 * 100 * mib, LargeBytes: 4 * 100 * mib},
	apply.Unknown:    {Count: 4, Unknown: 4},
}

func TestTune(t *testing.T) {
	defaults := config.Limits{MaxWorkers: 2, MaxDelete: -1} // what config gives without a limits block
	type want map[apply.Pattern]int
	for _, c := range []struct {
		name      string
		limits    config.Limits
		perWorker int64
		want      want
		budget    string
		fixed     bool
	}{
		{"defaults cap at 2", defaults, mib,
			want{apply.ManySmall: 2, apply.Mixed: 2, apply.LargeFiles: 2, apply.Unknown: 1}, "budget=unset", false},
		{"zero max_workers falls back to the table", config.Limits{}, mib,
			want{apply.ManySmall: 2, apply.Mixed: 2, apply.LargeFiles: 2, apply.Unknown: 1}, "budget=unset", false},
		{"workers fixes it", config.Limits{Workers: 5, MaxWorkers: 8, Memory: 64 * mib}, 16 * mib,
			want{apply.ManySmall: 5, apply.Mixed: 5, apply.LargeFiles: 5, apply.Unknown: 5}, "budget=64MiB", true},
		{"workers 1", config.Limits{Workers: 1, MaxWorkers: 2}, mib,
			want{apply.ManySmall: 1, apply.Mixed: 1, apply.LargeFiles: 1, apply.Unknown: 1}, "budget=unset", true},
		{"max_workers 8 without memory", config.Limits{MaxWorkers: 8}, 16 * mib,
			want{apply.ManySmall: 8, apply.Mixed: 8, apply.LargeFiles: 2, apply.Unknown: 1}, "budget=unset", false},
		{"max_workers 8 capped by 64MiB", config.Limits{MaxWorkers: 8, Memory: 64 * mib}, 16 * mib,
			want{apply.ManySmall: 2, apply.Mixed: 2, apply.LargeFiles: 2, apply.Unknown: 1}, "budget=64MiB", false},
		{"max_workers 8 capped by 96MiB", config.Limits{MaxWorkers: 8, Memory: 96 * mib}, 16 * mib,
			want{apply.ManySmall: 4, apply.Mixed: 4, apply.LargeFiles: 2, apply.Unknown: 1}, "budget=96MiB", false},
		{"max_workers 8 within 1800MiB", config.Limits{MaxWorkers: 8, Memory: 1800 * mib}, mib,
			want{apply.ManySmall: 8, apply.Mixed: 8, apply.LargeFiles: 2, apply.Unknown: 1}, "budget=1800MiB", false},
		{"memory below the base keeps the table", config.Limits{MaxWorkers: 8, Memory: 16 * mib}, mib,
			want{apply.ManySmall: 2, apply.Mixed: 2, apply.LargeFiles: 2, apply.Unknown: 1}, "budget=16MiB", false},
		{"max_workers 1 lowers the cap", config.Limits{MaxWorkers: 1}, mib,
			want{apply.ManySmall: 1, apply.Mixed: 1, apply.LargeFiles: 1, apply.Unknown: 1}, "budget=unset", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for p, w := range c.want {
				d := apply.Tune(c.limits, patternStats[p], c.perWorker)
				if d.Pattern != p {
					t.Errorf("%s: Pattern = %s", p, d.Pattern)
				}
				if d.Workers != w {
					t.Errorf("%s: Workers = %d; want %d (%s)", p, d.Workers, w, d.Reason)
				}
				for _, s := range []string{"pattern=" + string(p), c.budget} {
					if !strings.Contains(d.Reason, s) {
						t.Errorf("%s: Reason %q lacks %q", p, d.Reason, s)
					}
				}
				if c.fixed != strings.Contains(d.Reason, "limits.workers") {
					t.Errorf("%s: Reason %q; fixed by limits.workers: %v", p, d.Reason, c.fixed)
				}
			}
		})
	}
}

// The limits a config file gives reach Tune unchanged: without a limits
// block every pattern stays at 2 workers or fewer.
func TestTuneFromConfig(t *testing.T) {
	dir := t.TempDir()
	parse := func(limits string) config.Limits {
		t.Helper()
		src := limits + `
backend "local" "a" { path = "a" }
backend "local" "b" { path = "b" }
sync "s" {
  from = backend.local.a
  to   = backend.local.b
}
`
		cfg, diags := config.Parse(filepath.Join(dir, "syncer.hcl"), []byte(src), config.LoadOptions{})
		if diags.HasErrors() {
			t.Fatalf("config: %v", diags)
		}
		return cfg.Limits
	}
	def := parse("")
	for p, s := range patternStats {
		if d := apply.Tune(def, s, mib); d.Workers > 2 || d.Workers < 1 {
			t.Errorf("default limits, %s: %d workers; want 1..2", p, d.Workers)
		}
	}
	l := parse(`limits {
  workers     = "auto"
  max_workers = 8
  memory      = "64MiB"
}`)
	d := apply.Tune(l, patternStats[apply.ManySmall], 16*mib)
	if d.Workers != 2 || !strings.Contains(d.Reason, "budget=64MiB") {
		t.Errorf("max_workers 8, memory 64MiB, 16MiB per worker: %d workers (%s); want 2, budget=64MiB", d.Workers, d.Reason)
	}
	l = parse(`limits {
  workers     = 3
  max_workers = 4
}`)
	if d := apply.Tune(l, patternStats[apply.LargeFiles], mib); d.Workers != 3 {
		t.Errorf("workers = 3: Tune gave %d", d.Workers)
	}
}
