package apply

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"syncer/plan"
)

// progress counts what the run has moved (the source of Progress
// snapshots), and is the built-in observer: a bar on a terminal, else a
// stats line through the logger at each Progress tick.
type progress struct {
	totalBytes, totalObjects int64
	bytes, objects           atomic.Int64
	start                    time.Time
	bar                      *progressbar.ProgressBar
	log                      *slog.Logger
}

func newProgress(w io.Writer, terminal bool, log *slog.Logger, objects, bytes int64) *progress {
	p := &progress{totalBytes: bytes, totalObjects: objects, start: time.Now(), log: log}
	if terminal {
		p.bar = progressbar.NewOptions64(bytes,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(), // bytes done/total
			progressbar.OptionSetDescription(fmt.Sprintf("applying 0/%d objects", objects)),
			progressbar.OptionUseIECUnits(true), // KiB, MiB: as the summaries
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true),
		)
	}
	return p
}

// snapshot returns the counts so far, with the rate and the ETA.
func (p *progress) snapshot() Progress {
	elapsed := time.Since(p.start)
	s := Progress{Objects: p.objects.Load(), ObjectsTotal: p.totalObjects, Bytes: p.bytes.Load(), BytesTotal: p.totalBytes, Elapsed: elapsed, ETA: -1}
	if elapsed > 0 {
		s.Rate = float64(s.Bytes) / elapsed.Seconds()
	}
	if s.Rate > 0 && s.BytesTotal >= s.Bytes {
		s.ETA = time.Duration(float64(s.BytesTotal-s.Bytes) / s.Rate * float64(time.Second)).Round(time.Second)
	}
	return s
}

func (p *progress) RunStarted(RunInfo)   {}
func (p *progress) ObjectStarted(Object) {}

// ObjectFinished counts copies and deletes, the work the totals size.
func (p *progress) ObjectFinished(o Object) {
	switch o.Action {
	case plan.Create, plan.Update, plan.Delete:
		n := p.objects.Add(1)
		if p.bar != nil {
			p.bar.Describe(fmt.Sprintf("applying %d/%d objects", n, p.totalObjects))
		}
	}
}

// Progress logs a stats line, without a terminal; numbers, not text:
// bytes, bytes per second, seconds (eta -1: unknown).
func (p *progress) Progress(s Progress) {
	if p.bar != nil {
		return
	}
	eta := -1.0
	if s.ETA >= 0 {
		eta = s.ETA.Seconds()
	}
	p.log.Info("progress",
		"objects", s.Objects, "objects_total", s.ObjectsTotal,
		"bytes", s.Bytes, "bytes_total", s.BytesTotal,
		"rate", int64(s.Rate), "eta", eta,
		"heap_inuse", heapInUse())
}

func heapInUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

func (p *progress) addBytes(n int64) {
	p.bytes.Add(n)
	if p.bar != nil {
		p.bar.Add64(n)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// countingReader reports bytes read to add (executor.moved) and checks
// ctx.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	add func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(b)
	if n > 0 {
		c.add(int64(n))
	}
	return n, err
}
