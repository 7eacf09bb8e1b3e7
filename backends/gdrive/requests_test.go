package gdrive

import (
	"bytes"
	"maps"
	"net/http/httptest"
	"sync"
	"syncer/backends/backendtest"
	"syncer/backends/gdrive/drivetest"
	"testing"
	"time"
)

// Requests are named as Google's reference names the methods.
func TestOperationNames(t *testing.T) {
	for _, c := range []struct{ method, url, want string }{
		{"GET", "/drive/v3/files?q=x", "files.list"},
		{"POST", "/drive/v3/files", "files.create"},
		{"GET", "/drive/v3/files/abc?alt=media", "files.get"},
		{"PATCH", "/drive/v3/files/abc", "files.update"},
		{"DELETE", "/drive/v3/files/abc", "files.delete"},
		{"GET", "/drive/v3/files/abc/export?mimeType=x", "files.export"},
		{"POST", "/drive/v3/files/abc/copy", "files.copy"},
		{"GET", "/drive/v3/files/generateIds?count=10", "files.generateIds"},
		{"GET", "/drive/v3/changes/startPageToken", "changes.getStartPageToken"},
		{"GET", "/drive/v3/changes?pageToken=1", "changes.list"},
		{"POST", "/upload/drive/v3/files?uploadType=resumable", "files.create"},
		{"PATCH", "/upload/drive/v3/files/abc?uploadType=resumable", "files.update"},
		{"PUT", "/upload/drive/v3/files?uploadType=resumable&upload_id=xyz", "upload"},
		{"GET", "/drive/v3/drives/0AB", "drives.get"},
		{"GET", "/drive/v3/about?fields=user", "about.get"},
	} {
		if got := operation(httptest.NewRequest(c.method, c.url, nil)); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.url, got, c.want)
		}
	}
}

// The retry hook (metrics) hears each retry of the transport's loop and
// each resumed download once, with its reason.
func TestRetryHookReasons(t *testing.T) {
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	opts.ResponseTimeout = 300 * time.Millisecond
	var mu sync.Mutex
	seen := map[string]int{}
	opts.Retries = func(backend, reason string) {
		mu.Lock()
		defer mu.Unlock()
		seen[backend+" "+reason]++
	}
	b := mustNew(t, opts)
	data := backendtest.RandomBytes(6, 300000)
	backendtest.PutBytes(t, b, "k", data)

	srv.AddFault(drivetest.Fault{Status: 429, Count: 2})
	srv.AddFault(drivetest.Fault{Status: 403, Count: 1}) // userRateLimitExceeded
	srv.AddFault(drivetest.Fault{Status: 500, Count: 2})
	if got := backendtest.ReadAll(t, b, "k"); !bytes.Equal(got, data) {
		t.Errorf("read after 429s, a 403 and 500s: %d bytes; content differs", len(got))
	}
	srv.AddFault(drivetest.Fault{Stall: 5 * time.Second, Count: 1})
	if got := keysOf(t, b, ""); len(got) != 1 {
		t.Errorf("list after a stalled request: %q", got)
	}
	srv.AddFault(drivetest.Fault{CutAfter: 100000, Count: 2})
	if got := backendtest.ReadAll(t, b, "k"); !bytes.Equal(got, data) {
		t.Errorf("read cut twice: %d bytes; content differs", len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"test throttled": 3, "test server_error": 2, "test timeout": 1, "test connection": 2}
	if !maps.Equal(seen, want) {
		t.Errorf("retries %v; want %v", seen, want)
	}
}
