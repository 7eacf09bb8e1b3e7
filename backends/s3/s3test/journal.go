package s3test

import (
	"context"
	"slices"
	"sync"

	"syncer/backends"
)

// MemJournal is an in-memory backends.UploadJournal for tests.
type MemJournal struct {
	mu      sync.Mutex
	uploads map[string]*memUpload
	calls   map[string]int

	// OnPartDone, when set, runs after a part is recorded (e.g. to cancel
	// the upload's context and simulate a kill).
	OnPartDone func(key string, p backends.Part)
}

type memUpload struct {
	id       string
	partSize int64
	parts    []backends.Part
}

// NewMemJournal returns an empty journal.
func NewMemJournal() *MemJournal {
	return &MemJournal{uploads: map[string]*memUpload{}, calls: map[string]int{}}
}

func (j *MemJournal) Load(ctx context.Context, key string) (string, int64, []backends.Part, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls["Load"]++
	u := j.uploads[key]
	if u == nil {
		return "", 0, nil, nil
	}
	return u.id, u.partSize, slices.Clone(u.parts), nil
}

func (j *MemJournal) Started(ctx context.Context, key, id string, partSize int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls["Started"]++
	j.uploads[key] = &memUpload{id: id, partSize: partSize}
	return nil
}

func (j *MemJournal) PartDone(ctx context.Context, key string, p backends.Part) error {
	j.mu.Lock()
	j.calls["PartDone"]++
	if u := j.uploads[key]; u != nil {
		u.parts = append(u.parts, p)
		slices.SortFunc(u.parts, func(a, b backends.Part) int { return int(a.Number - b.Number) })
	}
	hook := j.OnPartDone
	j.mu.Unlock()
	if hook != nil {
		hook(key, p)
	}
	return nil
}

func (j *MemJournal) Finished(ctx context.Context, key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls["Finished"]++
	delete(j.uploads, key)
	return nil
}

// Upload returns the recorded upload id and parts of key ("" when none).
func (j *MemJournal) Upload(key string) (string, []backends.Part) {
	j.mu.Lock()
	defer j.mu.Unlock()
	u := j.uploads[key]
	if u == nil {
		return "", nil
	}
	return u.id, slices.Clone(u.parts)
}

// Calls returns how often method was called.
func (j *MemJournal) Calls(method string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.calls[method]
}

// Record sets key's upload as if a run had started it (e.g. with an id the
// server does not know).
func (j *MemJournal) Record(key, id string, partSize int64, parts ...backends.Part) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.uploads[key] = &memUpload{id: id, partSize: partSize, parts: parts}
}

var _ backends.UploadJournal = (*MemJournal)(nil)
