package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"syncer/apply"
)

// Report is the document apply -report FILE writes when the run ends,
// however it ends (docs/json-output.md, "The run report"). Failures are
// streamed after these fields, from the state.
type Report struct {
	Syncer          string       `json:"syncer"`
	UI              string       `json:"ui"`
	Operation       string       `json:"operation"` // "apply"
	Run             int64        `json:"run"`       // the state's run id; 0: the run never started
	Started         string       `json:"started"`
	Finished        string       `json:"finished"`
	DurationSeconds float64      `json:"duration_seconds"`
	Outcome         string       `json:"outcome"` // complete, partial, interrupted, failed
	Interrupted     bool         `json:"interrupted"`
	StopReason      string       `json:"stop_reason,omitempty"`
	Error           string       `json:"error,omitempty"`
	Totals          Totals       `json:"totals"`
	Throughput      float64      `json:"throughput"` // bytes per second over the duration
	Syncs           []SyncCounts `json:"syncs"`
}

// SyncCounts are one sync's outcomes in a run.
type SyncCounts struct {
	Sync             string `json:"sync"`
	Created          int64  `json:"created"`
	Updated          int64  `json:"updated"`
	Deleted          int64  `json:"deleted"`
	Adopted          int64  `json:"adopted"`
	Forgotten        int64  `json:"forgotten"`
	Archived         int64  `json:"archived"`
	RestoreRequested int64  `json:"restore_requested"`
	Failed           int64  `json:"failed"`
	Stopped          int64  `json:"stopped"`
	Bytes            int64  `json:"bytes"`             // planned sizes of the objects copied
	BytesTransferred int64  `json:"bytes_transferred"` // moved, whatever the outcome
}

// ReportFailure is one failed key in a report.
type ReportFailure struct {
	Sync   string `json:"sync"`
	Key    string `json:"key"`
	Action string `json:"action"`
	Error  string `json:"error"`
	At     string `json:"at"`
}

// SetResult fills the totals from res.
func (r *Report) SetResult(res apply.Result) {
	r.Run = res.Run
	r.Interrupted, r.StopReason = res.Interrupted, res.StopReason
	r.Totals = TotalsOf(res)
}

// SyncCounter is an apply.Observer that counts outcomes per sync.
type SyncCounter struct {
	mu sync.Mutex
	m  map[string]*SyncCounts
}

var _ apply.Observer = (*SyncCounter)(nil)

func (c *SyncCounter) RunStarted(apply.RunInfo)   {}
func (c *SyncCounter) ObjectStarted(apply.Object) {}
func (c *SyncCounter) Progress(apply.Progress)    {}

func (c *SyncCounter) ObjectFinished(o apply.Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*SyncCounts{}
	}
	s := c.m[o.Sync]
	if s == nil {
		s = &SyncCounts{Sync: o.Sync}
		c.m[o.Sync] = s
	}
	s.BytesTransferred += o.Transferred
	switch o.Outcome {
	case apply.Created:
		s.Created++
		s.Bytes += max(o.Bytes, 0)
	case apply.Updated:
		s.Updated++
		s.Bytes += max(o.Bytes, 0)
	case apply.Deleted:
		s.Deleted++
	case apply.Adopted:
		s.Adopted++
	case apply.Forgotten:
		s.Forgotten++
	case apply.Archived:
		s.Archived++
	case apply.RestoreRequested:
		s.RestoreRequested++
	case apply.Failed:
		s.Failed++
	case apply.Stopped:
		s.Stopped++
	}
}

// Counts returns the per-sync counts, by sync name.
func (c *SyncCounter) Counts() []SyncCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]SyncCounts, 0, len(c.m))
	for _, s := range c.m {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sync < out[j].Sync })
	return out
}

// WriteReport writes r to path, with the failures each yields, through a
// temporary file renamed into place: a reader never sees half a report.
func WriteReport(path string, r *Report, each func(fn func(ReportFailure) error) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".syncer-report-*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeReport(tmp, r, each); err != nil {
		tmp.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func writeReport(w io.Writer, r *Report, each func(fn func(ReportFailure) error) error) error {
	if r.Syncs == nil {
		r.Syncs = []SyncCounts{}
	}
	head, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// The fields, then "failures": [...] streamed, one per line.
	head = bytes.TrimSuffix(head, []byte("}"))
	if _, err := w.Write(append(head, []byte(`,"failures":[`)...)); err != nil {
		return err
	}
	n := 0
	if each != nil {
		err = each(func(f ReportFailure) error {
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			sep := "\n"
			if n > 0 {
				sep = ",\n"
			}
			n++
			_, err = w.Write(append([]byte(sep), b...))
			return err
		})
		if err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "]}\n")
	return err
}
