package s3

import (
	"context"
	"errors"
	"testing"
	"time"

	"syncer/backends"
)

// requests_per_second paces every request, shared by the backends that
// reach S3 as one account: with a pacer of one request and no refill in
// sight, the second request (from either backend) is refused before it is
// sent, and the server sees only the first; another account is not held up.
func TestRequestsPerSecondPacesEveryRequest(t *testing.T) {
	proxy, srv := proxied(t, &fake.Server)
	bucket := newBucket(t, &fake.Server)
	pacers := &backends.Pacers{}
	open := func(keyID string) *Backend {
		opts := testOptions(srv, bucket, "")
		opts.RequestsPerSecond, opts.Pacers = 0.0001, pacers // one now, the next in ~3 hours
		if keyID != "" {
			opts.AccessKeyID = keyID
		}
		b, err := New(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, twin, other := open(""), open(""), open("otherkey")
	proxy.Reset()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := a.Stat(ctx, "missing"); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("first request: %v, want not found", err)
	}
	if _, err := twin.Stat(ctx, "missing"); err == nil || errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("second request of the same account: %v, want it refused by the pacer", err)
	}
	if _, err := a.Stat(ctx, "missing"); err == nil || errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("third request: %v, want it refused by the pacer", err)
	}
	if got := proxy.Count("HeadObject"); got != 1 {
		t.Fatalf("server saw %d HeadObject requests, want 1 (the others waited)", got)
	}
	// Another account has its own pacer: the fake ignores signatures.
	if _, err := other.Stat(ctx, "missing"); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("another account's first request: %v, want not found", err)
	}
}
