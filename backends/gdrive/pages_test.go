package gdrive

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"syncer/backends"
	"syncer/backends/gdrive/drivetest"
)

// A files.list answer that hands back the page token it was given, or says
// its search was incomplete, fails the listing: the client would otherwise
// ask for the same page forever, or the plan would trust a partial listing.
func TestListRefusesBrokenPages(t *testing.T) {
	for name, rewrite := range map[string]func(page map[string]any, given string){
		"repeated token": func(page map[string]any, given string) {
			if given != "" {
				page["nextPageToken"] = given
			}
		},
		"incomplete search": func(page map[string]any, given string) {
			if given != "" {
				page["incompleteSearch"] = true
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newFake(t)
			root := newFolder(srv)
			for i := range 5 {
				srv.Add(drivetest.FileSpec{Name: "f" + strconv.Itoa(i), Parent: root, Content: []byte("x")})
			}
			target, _ := url.Parse(srv.URL)
			lists := 0
			proxy := &httputil.ReverseProxy{
				Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
				ModifyResponse: func(resp *http.Response) error {
					r := resp.Request
					if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/files") || resp.StatusCode != 200 {
						return nil
					}
					if lists++; lists > 4 { // the guard failed: end the loop anyway
						resp.StatusCode = http.StatusBadRequest
						return nil
					}
					var page map[string]any
					if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
						return err
					}
					resp.Body.Close()
					rewrite(page, r.URL.Query().Get("pageToken"))
					body, _ := json.Marshal(page)
					resp.Body = io.NopCloser(bytes.NewReader(body))
					resp.ContentLength = int64(len(body))
					resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
					return nil
				},
			}
			front := httptest.NewServer(proxy)
			defer front.Close()
			opts := testOptions(srv, root)
			opts.Endpoint = front.URL
			opts.ListPageSize = 2
			b := mustNew(t, opts)
			n := 0
			err := b.List(t.Context(), "", func(backends.Object) error { n++; return nil })
			if err == nil || !strings.Contains(err.Error(), "files.list") {
				t.Fatalf("List = %v after %d objects; want a files.list error", err, n)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), `gdrive "test"`) {
				t.Errorf("error does not name the backend: %v", err)
			}
			if lists > 3 {
				t.Errorf("%d files.list requests; want the listing stopped at the second page", lists)
			}
		})
	}
}

// CheckRoot, which plan calls on a source, fails for a folder_id that is
// missing, unshared, trashed or not a folder: files.list would answer a
// query on it with an empty page, and a mirror would delete its copies.
func TestCheckRoot(t *testing.T) {
	srv := newFake(t)
	good := newFolder(srv)
	file := srv.Add(drivetest.FileSpec{Name: "notes.txt", Parent: good, Content: []byte("x")})
	trashed := newFolder(srv)
	srv.Trash(trashed)
	sd := srv.AddSharedDrive("Team")
	for _, c := range []struct{ folder, drive, want string }{
		{good, "", ""},
		{"root", "", ""},
		{"", sd, ""},
		{"1NoSuchFolder000000000000000", "", `: folder_id 1NoSuchFolder000000000000000: not found (deleted, or not shared with these credentials; shared drives need the drive_id)`},
		{file, "", `: folder_id ` + file + ` ("notes.txt") is not a folder but a file of type application/octet-stream`},
		{trashed, "", `: folder_id ` + trashed + ` ("run-`},
	} {
		opts := testOptions(srv, c.folder)
		opts.DriveID = c.drive
		b := mustNew(t, opts)
		err := b.CheckRoot(t.Context(), "")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckRoot(%q) = %v", c.folder, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), b.String()+c.want)):
			t.Errorf("CheckRoot(%q) = %v; want %s%s", c.folder, err, b.String(), c.want)
		}
		if c.folder == trashed && (err == nil || !strings.HasSuffix(err.Error(), `) is in the trash`)) {
			t.Errorf("CheckRoot(trashed) = %v", err)
		}
	}
	// The folder a prefix names must exist too; a prefix without a "/" names
	// none.
	sub := srv.Mkdir(good, "photos")
	srv.Mkdir(sub, "2024")
	b := mustNew(t, testOptions(srv, good))
	for prefix, want := range map[string]string{
		"": "", "pho": "", "photos/": "", "photos/20": "", "photos/2024/": "", "notes.txt/": `: prefix "notes.txt/": folder "notes.txt" does not exist`,
		"Photos/": `: prefix "Photos/": folder "Photos" does not exist`, "photos/2025/IMG": `: prefix "photos/2025/IMG": folder "photos/2025" does not exist`,
	} {
		err := b.CheckRoot(t.Context(), prefix)
		if want == "" && err != nil || want != "" && (err == nil || err.Error() != b.String()+want) {
			t.Errorf("CheckRoot(prefix %q) = %v; want %q", prefix, err, want)
		}
	}
}
