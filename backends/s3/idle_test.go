package s3

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

// A download whose body stalls mid-transfer on an open connection (the
// store sent half and then nothing) is dropped after idle_timeout and
// resumed from where it stopped; the bytes read are the object's.
func TestStalledBodyResumes(t *testing.T) {
	p, via := proxied(t, &fake.Server)
	bucket := newBucket(t, &fake.Server)
	opts := testOptions(via, bucket, "")
	opts.IdleTimeoutText = "1s"
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	opts.IdleTimeout = 300 * time.Millisecond // below what the config allows, for speed
	b := mustNew(t, opts)
	want := backendtest.RandomBytes(3, 4<<20)
	backendtest.PutBytes(t, mustNew(t, testOptions(&fake.Server, bucket, "")), "stall.bin", want)

	var mu sync.Mutex
	var ranges []string
	p.SetOnRequest(func(op string, r *http.Request) {
		if op == "GetObject" {
			mu.Lock()
			ranges = append(ranges, r.Header.Get("Range"))
			if len(ranges) == 2 {
				p.SetFaults(s3test.Faults{}) // one stall only
			}
			mu.Unlock()
		}
	})
	p.SetFaults(s3test.Faults{Stall: 1, Only: []string{"GetObject"}})
	rc, err := b.Open(t.Context(), "stall.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read through a stall: %d bytes, %v", len(got), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes; not the object's %d", len(got), len(want))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
		t.Fatalf("GetObject ranges %q; want the whole object, then a resume from the stall", ranges)
	}
}

// idle_timeout is checked like every attribute: at least a second.
func TestIdleTimeoutValidated(t *testing.T) {
	for _, bad := range []string{"0s", "500ms", "soon", "-1m"} {
		o := Options{Bucket: "b", IdleTimeoutText: bad}
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), "idle_timeout must be a duration of at least 1s") {
			t.Errorf("idle_timeout %q: %v", bad, err)
		}
	}
	o := Options{Bucket: "b", IdleTimeoutText: "90s"}
	if err := o.Validate(); err != nil || o.IdleTimeout != 90*time.Second {
		t.Errorf("idle_timeout 90s: %v, %s", err, o.IdleTimeout)
	}
}
