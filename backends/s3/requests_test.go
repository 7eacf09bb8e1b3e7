package s3

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"syncer/backends"
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
