package gdrive

import (
	"net/http/httptest"
	"testing"
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
