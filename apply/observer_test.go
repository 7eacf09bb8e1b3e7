package apply_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/apply"
	"syncer/state"
)

// recorder collects what a run reports.
type seen struct {
	mu       sync.Mutex
	started  map[string]int
	finished map[string][]apply.Object
	progress []apply.Progress
	runs     []apply.RunInfo
}

func newSeen() *seen {
	return &seen{started: map[string]int{}, finished: map[string][]apply.Object{}}
}

func (s *seen) RunStarted(r apply.RunInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, r)
}

func (s *seen) ObjectStarted(o apply.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started[o.Key]++
}

func (s *seen) ObjectFinished(o apply.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished[o.Key] = append(s.finished[o.Key], o)
}

func (s *seen) Progress(p apply.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress = append(s.progress, p)
}

// Every action is started and finished once, with its outcome; a failure
// carries its error; the last progress is the final count.
func TestObserverOutcomes(t *testing.T) {
	e := newEnv(t, `limits { workers = 2 }`, `delete = "all"`)
	src, dst := e.dir("src"), e.dir("dst")
	writeFile(t, src, "new", []byte("new"))
	writeFile(t, src, "bad", []byte("bad!"))
	writeFile(t, src, "same", []byte("same"))
	writeFile(t, dst, "same", []byte("same"))
	writeFile(t, dst, "gone", []byte("gone"))
	h := hook(e.local("dst"))
	h.beforePut = func(ctx context.Context, key string, r io.Reader) (io.Reader, error) {
		if key == "bad" {
			return nil, errors.New("refused by the test")
		}
		return r, nil
	}
	e.set("dst", h)
	s := newSeen()
	res, err := e.apply(apply.Options{Observer: s, ProgressInterval: time.Millisecond})
	if err != nil || res.Failed != 1 || res.Created != 1 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	want := map[string]apply.Outcome{"new": apply.Created, "bad": apply.Failed, "same": apply.Adopted}
	for k, o := range want {
		if s.started[k] != 1 || len(s.finished[k]) != 1 {
			t.Fatalf("%s: started %d, finished %v", k, s.started[k], s.finished[k])
		}
		f := s.finished[k][0]
		if f.Outcome != o || f.Sync != "s" {
			t.Errorf("%s: %+v; want outcome %s", k, f, o)
		}
	}
	if f := s.finished["bad"][0]; f.Err == nil || f.Bytes != 4 || f.Action != "create" {
		t.Errorf("bad: %+v", f)
	}
	// Each action counts the bytes it moved: the copy its 3, the refused
	// put (refused before reading) and the adoption none; so does the run.
	for k, n := range map[string]int64{"new": 3, "bad": 0, "same": 0} {
		if f := s.finished[k][0]; f.Transferred != n {
			t.Errorf("%s: transferred %d bytes; want %d", k, f.Transferred, n)
		}
	}
	if res.Transferred != 3 || res.Bytes != 3 {
		t.Errorf("result: %d bytes written, %d transferred; want 3 and 3", res.Bytes, res.Transferred)
	}
	// Deletes are skipped when a copy of the sync failed: never started.
	if s.started["gone"] != 0 || len(s.finished["gone"]) != 0 {
		t.Errorf("gone reported: %v", s.finished["gone"])
	}
	// The state keeps the failure, with its error, until the next apply.
	var fails []state.Failure
	if err := e.st.EachFailure(e.ctx, func(f state.Failure) error { fails = append(fails, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(fails) != 1 || fails[0].Key != "bad" || fails[0].Sync != "s" || fails[0].Action != "create" ||
		!strings.Contains(fails[0].Error, "refused by the test") || fails[0].Run != res.Run {
		t.Errorf("recorded failures %+v (run %d)", fails, res.Run)
	}
	h.beforePut = nil
	if _, err := e.apply(apply.Options{}); err != nil {
		t.Fatal(err)
	}
	fails = nil
	e.st.EachFailure(e.ctx, func(f state.Failure) error { fails = append(fails, f); return nil })
	if len(fails) != 0 {
		t.Errorf("failures of the run before kept: %+v", fails)
	}
	if len(s.runs) != 1 || s.runs[0].Workers != 2 || s.runs[0].Objects != 3 || s.runs[0].Bytes != 7 || s.runs[0].Run != res.Run {
		t.Errorf("RunStarted %+v", s.runs)
	}
	last := s.progress[len(s.progress)-1]
	if last.Objects != 2 || last.ObjectsTotal != 3 || last.Bytes != 3 || last.BytesTotal != 7 {
		t.Errorf("last progress %+v", last)
	}
}

// Deletes report their outcome, one each.
func TestObserverDeletes(t *testing.T) {
	e := newEnv(t, "", `delete = "all"`)
	e.dir("src")
	for _, k := range []string{"x", "y"} {
		writeFile(t, e.dir("dst"), k, []byte(k))
	}
	s := newSeen()
	res, err := e.apply(apply.Options{Observer: s})
	if err != nil || res.Deleted != 2 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	for _, k := range []string{"x", "y"} {
		if s.started[k] != 1 || len(s.finished[k]) != 1 || s.finished[k][0].Outcome != apply.Deleted {
			t.Errorf("%s: started %d, finished %+v", k, s.started[k], s.finished[k])
		}
	}
}

// A cancelled run's aborted copies are stopped, not failed.
func TestObserverAborted(t *testing.T) {
	e := newEnv(t, `limits { workers = 1 }`, "")
	writeFile(t, e.dir("src"), "slow", []byte("slow"))
	h := hook(e.local("dst"))
	h.delay = time.Hour
	e.set("dst", h)
	ctx, cancel := context.WithCancel(context.Background())
	s := newSeen()
	h.beforePut = nil
	go func() {
		for {
			s.mu.Lock()
			n := s.started["slow"]
			s.mu.Unlock()
			if n > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := e.applyCtx(ctx, apply.Options{Observer: s})
	if err != nil || res.Failed != 0 || !res.Interrupted {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if f := s.finished["slow"]; len(f) != 1 || f[0].Outcome != apply.Stopped {
		t.Errorf("slow: %+v", f)
	}
}

// Many failures pass through the bounded queue into the state, each once.
func TestFailuresRecordedInBatches(t *testing.T) {
	e := newEnv(t, `limits { workers = 2 }`, "")
	src := e.dir("src")
	const n = 700 // more than a batch and than the queue
	for i := range n {
		writeFile(t, src, fmt.Sprintf("f%04d", i), []byte("x"))
	}
	h := hook(e.local("dst"))
	h.beforePut = func(ctx context.Context, key string, r io.Reader) (io.Reader, error) {
		return nil, errors.New("refused")
	}
	e.set("dst", h)
	res, err := e.apply(apply.Options{})
	if err != nil || res.Failed != n {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	seen := map[string]int{}
	if err := e.st.EachFailure(e.ctx, func(f state.Failure) error { seen[f.Key]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("%d keys recorded as failed; want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s recorded %d times", k, c)
		}
	}
}
