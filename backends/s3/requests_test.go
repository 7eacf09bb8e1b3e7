package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

// The request hook (metrics) hears every request the SDK sends, each retry
// included, with its operation and HTTP status.
func TestRequestHookSeesEveryAttempt(t *testing.T) {
	p, via := proxied(t, &fake.Server)
	bucket := newBucket(t, &fake.Server)
	var mu sync.Mutex
	seen := map[string]int{}
	opts := testOptions(via, bucket, "")
	opts.Name = "metered"
	opts.Requests = func(backend, op string, status int) {
		mu.Lock()
		defer mu.Unlock()
		seen[fmt.Sprintf("%s %s %d", backend, op, status)]++
	}
	b := mustNew(t, opts)
	if _, err := b.Stat(t.Context(), "missing"); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("stat: %v", err)
	}
	p.SetFaults(s3test.Faults{SlowDown: 1, MaxInARow: 1, Only: []string{"PutObject"}})
	if _, err := b.Put(t.Context(), "k", strings.NewReader("data"), backends.Object{Size: 4}); err != nil {
		t.Fatalf("put through one SlowDown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for want, n := range map[string]int{"metered HeadObject 404": 1, "metered PutObject 503": 1, "metered PutObject 200": 1} {
		if seen[want] != n {
			t.Errorf("%q seen %d times, want %d (all: %v)", want, seen[want], n, seen)
		}
	}
}

// The retry hook (metrics) hears each retry once, with its reason: a
// connection dropped before the response, a 500, a SlowDown (the SDK's
// retries) and a body stalled past idle_timeout (our own resume). (A GET
// dropped so is re-sent by net/http itself, unseen: the drop is on a PUT.)
func TestRetryHookReasons(t *testing.T) {
	p, via := proxied(t, &fake.Server)
	bucket := newBucket(t, &fake.Server)
	var failed atomic.Bool
	p.Fail = func(op string, _ *http.Request) (int, string) {
		if op == "HeadObject" && failed.CompareAndSwap(false, true) {
			return http.StatusInternalServerError, "InternalError"
		}
		return 0, ""
	}
	var mu sync.Mutex
	seen := map[string]int{}
	opts := testOptions(via, bucket, "")
	opts.Name = "metered"
	opts.IdleTimeout = 300 * time.Millisecond
	opts.Retries = func(backend, reason string) {
		mu.Lock()
		defer mu.Unlock()
		seen[backend+" "+reason]++
	}
	b := mustNew(t, opts)
	want := backendtest.RandomBytes(4, 4<<20)

	p.SetFaults(s3test.Faults{Reset: 1, MaxInARow: 1, Only: []string{"PutObject"}})
	if _, err := b.Put(t.Context(), "k", bytes.NewReader(want), backends.Object{Size: int64(len(want))}); err != nil {
		t.Fatalf("put through a dropped connection: %v", err)
	}
	p.SetFaults(s3test.Faults{})
	if _, err := b.Stat(t.Context(), "k"); err != nil {
		t.Fatalf("stat through one 500: %v", err)
	}
	read := func(what string) {
		t.Helper()
		rc, err := b.Open(t.Context(), "k", 0, -1)
		if err != nil {
			t.Fatalf("open through %s: %v", what, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read through %s: %d bytes (want %d), %v", what, len(got), len(want), err)
		}
	}
	p.SetFaults(s3test.Faults{SlowDown: 1, MaxInARow: 1, Only: []string{"GetObject"}})
	read("a SlowDown")
	gets := 0
	p.SetOnRequest(func(op string, _ *http.Request) {
		if op == "GetObject" {
			if gets++; gets == 2 {
				p.SetFaults(s3test.Faults{}) // one stall only
			}
		}
	})
	p.SetFaults(s3test.Faults{Stall: 1, Only: []string{"GetObject"}})
	read("a stall")

	mu.Lock()
	defer mu.Unlock()
	want2 := map[string]int{"metered throttled": 1, "metered server_error": 1, "metered connection": 1, "metered idle_timeout": 1}
	if !maps.Equal(seen, want2) {
		t.Errorf("retries %v; want %v", seen, want2)
	}
}
