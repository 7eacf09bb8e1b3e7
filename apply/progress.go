package apply

import (
	"context"
	"io"
	"log/slog"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"syncer/plan"
)

// progress counts what the run has moved: a bar on a terminal, else a stats
// line every interval through the logger.
type progress struct {
	totalBytes, totalObjects int64
	bytes, objects           atomic.Int64
	start                    time.Time
	bar                      *progressbar.ProgressBar
	log                      *slog.Logger
	stop                     chan struct{}
	done                     chan struct{}
}

func newProgress(w io.Writer, terminal bool, log *slog.Logger, objects, bytes int64, interval time.Duration) *progress {
	p := &progress{totalBytes: bytes, totalObjects: objects, start: time.Now(), log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	if terminal {
		p.bar = progressbar.NewOptions64(bytes,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("applying"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true),
		)
		close(p.done)
		return p
	}
	go p.loop(interval)
	return p
}

func (p *progress) loop(interval time.Duration) {
	defer close(p.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.logStats()
		}
	}
}

func (p *progress) logStats() {
	elapsed := time.Since(p.start)
	b := p.bytes.Load()
	rate := float64(b) / elapsed.Seconds()
	eta := "unknown"
	if rate > 0 && p.totalBytes >= b {
		eta = time.Duration(float64(p.totalBytes-b) / rate * float64(time.Second)).Round(time.Second).String()
	}
	p.log.Info("progress",
		"objects", p.objects.Load(), "objects_total", p.totalObjects,
		"bytes", plan.FormatBytes(b), "bytes_total", plan.FormatBytes(p.totalBytes),
		"rate", plan.FormatBytes(int64(rate))+"/s", "eta", eta,
		"heap_inuse", plan.FormatBytes(heapInUse()))
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

func (p *progress) addObject() { p.objects.Add(1) }

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	close(p.stop)
	<-p.done
}

// countingReader reports bytes read to the progress and checks ctx.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	p   *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(b)
	if n > 0 {
		c.p.addBytes(int64(n))
	}
	return n, err
}
