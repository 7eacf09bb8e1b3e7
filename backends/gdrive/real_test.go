package gdrive

// Tests of the backend against the fake's realistic modes (issue 17).

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/gdrive/drivetest"
)

// uploads counts the upload requests (every kind) in st.
func uploads(st drivetest.Stats) int64 {
	return st.ByKind["upload-multipart"] + st.ByKind["upload-media"] + st.ByKind["upload-init"] + st.ByKind["upload-chunk"]
}

func TestDailyUploadCapStops(t *testing.T) {
	srv := newFake(t)
	b := mustNew(t, testOptions(srv, newFolder(srv)))
	backendtest.PutBytes(t, b, "before", []byte("written before the cap"))

	srv.SetDailyCaps(0, -1)
	srv.ResetStats()
	_, err := b.Put(t.Context(), "dir/capped", strings.NewReader("refused"), backends.Object{Size: 7})
	se := backends.AsStop(err)
	if se == nil || se.Reason != UploadCapReason || !strings.Contains(err.Error(), `"dir/capped"`) {
		t.Fatalf("Put under the daily cap: %v; want a StopError saying %q and naming the key", err, UploadCapReason)
	}
	// The cap's wording is given up on after capAttempts, not MaxAttempts.
	if n := uploads(srv.Stats()); n != capAttempts {
		t.Errorf("the capped upload was sent %d times; want %d", n, capAttempts)
	}
	srv.ResetStats()
	_, err = b.Put(t.Context(), "other", strings.NewReader("x"), backends.Object{Size: 1})
	if backends.AsStop(err) == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("Put after the cap: %v; want a StopError naming the key", err)
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("a Put after the cap sent %d requests (%v); want none", st.Requests, st.ByKind)
	}
	if got := keysOf(t, b, ""); strings.Join(got, ",") != "before" {
		t.Errorf("keys after the cap = %q; want only \"before\"", got)
	}
	// Reads go on.
	if got := backendtest.ReadAll(t, b, "before"); string(got) != "written before the cap" {
		t.Errorf("read after the upload cap: %q", got)
	}
}

// A 403 rate limit in the per-minute wording that no backoff cures is
// taken as the cap once every retry is spent.
func TestPersistentRateLimitOnWritesStops(t *testing.T) {
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	opts.MaxAttempts = 4
	b := mustNew(t, opts)
	srv.AddFault(drivetest.Fault{Status: 403, Match: func(r *http.Request, kind string) bool {
		return strings.HasPrefix(kind, "upload")
	}})
	_, err := b.Put(t.Context(), "k", strings.NewReader("data"), backends.Object{Size: 4})
	if se := backends.AsStop(err); se == nil || se.Reason != UploadCapReason {
		t.Fatalf("Put under a persisting 403: %v; want the upload cap", err)
	}
	if n := uploads(srv.Stats()); n != 4 {
		t.Errorf("sent %d times; want MaxAttempts (4)", n)
	}
}

func TestDownloadQuotaStops(t *testing.T) {
	srv := newFake(t)
	b := mustNew(t, testOptions(srv, newFolder(srv)))
	data := backendtest.RandomBytes(1, 1000)
	backendtest.PutBytes(t, b, "a", data)
	backendtest.PutBytes(t, b, "b", data)
	srv.SetDailyCaps(-1, 0)
	_, err := b.Open(t.Context(), "a", 0, -1)
	if se := backends.AsStop(err); se == nil || se.Reason != DownloadCapReason || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), "downloadQuotaExceeded") {
		t.Fatalf("Open under the download quota: %v", err)
	}
	srv.ResetStats()
	_, err = b.Open(t.Context(), "b", 0, -1)
	if backends.AsStop(err) == nil || srv.Stats().Requests != 0 {
		t.Errorf("Open after the quota: %v with %d requests; want a StopError and none", err, srv.Stats().Requests)
	}
	// Writes go on.
	srv.SetDailyCaps(-1, -1)
	backendtest.PutBytes(t, b, "c", data)
	var buf bytes.Buffer
	if rc, err := b.Open(t.Context(), "c", 0, -1); !errors.As(err, new(*backends.StopError)) {
		t.Errorf("Open after the quota, for a new key: %v; want the StopError still (the quota is daily)", err)
		if rc != nil {
			io.Copy(&buf, rc)
			rc.Close()
		}
	}
}
