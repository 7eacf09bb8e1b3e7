package gdrive

// Hostile or broken Drive replies, crafted by an httptest server that
// stands in for Drive: every one must end in an error that names the
// backend (or, where the reply is harmless, in the right bytes), never in
// a panic, an endless loop or a silently wrong copy.

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/backends"
)

// driveCall is one request to the crafted Drive, as the handler sees it.
type driveCall struct {
	kind   string // list, get, media, generateIds, upload, update, delete
	id     string // the file id in the path (get, media, update, delete)
	parent string // list: the folder in "'ID' in parents"
	names  []string
	token  string // list: the pageToken asked for
}

var (
	qParentRe = regexp.MustCompile(`'([^']*)' in parents`)
	qNameRe   = regexp.MustCompile(`name = '([^']*)'`)
)

// craftedBackend starts a Drive whose every answer comes from handle, and
// returns a backend named "crafted" rooted at folder on it.
func craftedBackend(t *testing.T, folder string, handle func(w http.ResponseWriter, r *http.Request, c driveCall)) *Backend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, q := r.URL.Path, r.URL.Query()
		var c driveCall
		switch {
		case p == "/drive/v3/changes/startPageToken":
			// A Drive where nothing changes while a listing runs.
			replyJSON(w, map[string]any{"startPageToken": "1"})
			return
		case p == "/drive/v3/changes":
			replyJSON(w, map[string]any{"changes": []any{}, "newStartPageToken": "1"})
			return
		case p == "/drive/v3/files" && r.Method == http.MethodGet:
			c.kind, c.token = "list", q.Get("pageToken")
			if m := qParentRe.FindStringSubmatch(q.Get("q")); m != nil {
				c.parent = m[1]
			}
			for _, m := range qNameRe.FindAllStringSubmatch(q.Get("q"), -1) {
				c.names = append(c.names, m[1])
			}
		case p == "/drive/v3/files/generateIds":
			c.kind = "generateIds"
		case strings.HasPrefix(p, "/upload/"):
			c.kind = "upload"
			io.Copy(io.Discard, r.Body)
		case strings.HasPrefix(p, "/drive/v3/files/"):
			c.id = strings.TrimPrefix(p, "/drive/v3/files/")
			switch {
			case r.Method == http.MethodDelete:
				c.kind = "delete"
			case r.Method == http.MethodPatch:
				c.kind = "update"
			case q.Get("alt") == "media":
				c.kind = "media"
			default:
				c.kind = "get"
			}
		}
		handle(w, r, c)
	}))
	t.Cleanup(srv.Close)
	return mustNew(t, Options{
		Name: "crafted", FolderID: folder, Endpoint: srv.URL, ChunkSize: ChunkGranularity,
		MaxAttempts: 2, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond,
	})
}

func replyJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func replyRaw(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

func replyNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, `{"error":{"code":404,"message":"File not found.","errors":[{"reason":"notFound","message":"File not found."}]}}`)
}

// item is a File resource in folder parent; extra adds fields, and a nil
// value removes one.
func item(id, name, mime, parent string, extra map[string]any) map[string]any {
	m := map[string]any{"id": id, "name": name, "mimeType": mime, "parents": []string{parent},
		"createdTime": "2024-01-01T00:00:00.000Z", "modifiedTime": "2024-01-02T00:00:00.000Z"}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func md5Of(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// noPanic runs fn and fails the test, instead of the test binary, if it
// panics.
func noPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s panicked: %v", what, p)
		}
	}()
	fn()
}

func listErr(b *Backend, ctx context.Context) (n int, err error) {
	err = b.List(ctx, "", func(backends.Object) error { n++; return nil })
	return n, err
}

// A binary file whose size Drive left out (the client decodes it as 0) or
// gave as negative would list with that size, and Open would clamp the
// download to it: a copy would write an empty file without an error. Such
// an item fails the listing (dropping it would have the plan delete its
// copy), and Stat and Open of it fail too, naming the backend and the key.
func TestBinaryFileWithoutSizeIsRefused(t *testing.T) {
	const data = "hello world"
	for name, c := range map[string]struct {
		extra map[string]any
		why   string
	}{
		"size missing": {map[string]any{"md5Checksum": md5Of(data)},
			"no size (or 0) reported for a binary file whose checksum is not an empty file's"},
		"size missing, sha256 only": {map[string]any{"sha256Checksum": strings.Repeat("ab", 32)},
			"no size (or 0) reported for a binary file whose checksum is not an empty file's"},
		"negative size": {map[string]any{"size": "-5", "md5Checksum": md5Of(data)},
			"a negative size (-5) reported for a binary file"},
	} {
		t.Run(name, func(t *testing.T) {
			b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, call driveCall) {
				switch call.kind {
				case "list":
					replyJSON(w, map[string]any{"files": []any{item("F1", "a.txt", "text/plain", "ROOT", c.extra)}})
				case "media":
					io.WriteString(w, data)
				default:
					replyNotFound(w)
				}
			})
			n, err := listErr(b, t.Context())
			if want := "list " + b.String() + `: file "a.txt" (id F1): ` + c.why; err == nil || err.Error() != want || n != 0 {
				t.Errorf("List = %v after %d objects; want %q", err, n, want)
			}
			if _, err := b.Stat(t.Context(), "a.txt"); err == nil || err.Error() != "stat "+b.String()+`: key "a.txt": `+c.why {
				t.Errorf("Stat = %v", err)
			}
			rc, err := b.Open(t.Context(), "a.txt", 0, -1)
			if err == nil {
				got, rerr := io.ReadAll(rc)
				rc.Close()
				t.Fatalf("Open gave %q (%v); want an error", got, rerr)
			}
			if err.Error() != "open "+b.String()+`: key "a.txt": `+c.why {
				t.Errorf("Open = %v", err)
			}
		})
	}
}

// serveRange answers a download of data, honouring a Range header as
// Drive does (206 with Content-Range).
func serveRange(w http.ResponseWriter, r *http.Request, data string) {
	rg := r.Header.Get("Range")
	if rg == "" {
		io.WriteString(w, data)
		return
	}
	var from, to int
	if n, _ := fmt.Sscanf(rg, "bytes=%d-%d", &from, &to); n < 2 {
		to = len(data) - 1
	}
	to = min(to, len(data)-1)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
	w.WriteHeader(http.StatusPartialContent)
	io.WriteString(w, data[from:to+1])
}

// A size of 0 is an empty file's when its checksum is an empty file's. A
// 0 without any checksum may be a missing size: the file is listed with an
// unknown size (-1), like a Google Doc, and read to its end, never cut.
// Google Docs have no size and keep working.
func TestZeroOrUnknownSize(t *testing.T) {
	const data = "hello world"
	b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, c driveCall) {
		switch {
		case c.kind == "list":
			var files []any
			for _, f := range []map[string]any{
				item("E", "empty.bin", "application/octet-stream", "ROOT", map[string]any{"size": "0", "md5Checksum": emptyMD5}),
				item("N", "nosize.txt", "text/plain", "ROOT", nil),
				item("D", "report", "application/vnd.google-apps.document", "ROOT", nil),
			} {
				if len(c.names) == 0 || c.names[0] == f["name"] || len(c.names) > 1 && c.names[1] == f["name"] {
					files = append(files, f)
				}
			}
			replyJSON(w, map[string]any{"files": files})
		case c.kind == "media" && c.id == "N":
			serveRange(w, r, data)
		case c.kind == "media" && c.id == "E":
			// nothing
		default:
			replyNotFound(w)
		}
	})
	got := map[string]int64{}
	if err := b.List(t.Context(), "", func(o backends.Object) error { got[o.Key] = o.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"empty.bin": 0, "nosize.txt": -1, "report.docx": -1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List sizes = %v; want %v", got, want)
	}
	for _, c := range []struct {
		key            string
		offset, length int64
		want           string
	}{
		{"nosize.txt", 0, -1, data},
		{"nosize.txt", 6, -1, "world"},
		{"nosize.txt", 2, 3, "llo"},
		{"empty.bin", 0, -1, ""},
	} {
		rc, err := b.Open(t.Context(), c.key, c.offset, c.length)
		if err != nil {
			t.Errorf("Open(%s, %d, %d) = %v", c.key, c.offset, c.length, err)
			continue
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(b) != c.want {
			t.Errorf("Open(%s, %d, %d) read %q, %v; want %q", c.key, c.offset, c.length, b, err, c.want)
		}
	}
}

// Page tokens that come back after others (A, B, A, ...) made the client
// ask for pages until the context ended: pages remembered only the token
// before. A short cycle is caught at its first repeat, a long one within
// a few of its rounds.
func TestListStopsOnCyclingPageTokens(t *testing.T) {
	for _, cycle := range []int{2, 3, 200} {
		t.Run(fmt.Sprintf("cycle of %d", cycle), func(t *testing.T) {
			var lists atomic.Int64
			b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, c driveCall) {
				if c.kind != "list" {
					replyNotFound(w)
					return
				}
				n := lists.Add(1)
				next := 0
				if c.token != "" {
					fmt.Sscanf(c.token, "T%d", &next)
					next = (next + 1) % cycle
				}
				replyJSON(w, map[string]any{"nextPageToken": fmt.Sprintf("T%d", next), "files": []any{
					item(fmt.Sprintf("F%d", n), fmt.Sprintf("f%07d", n), "text/plain", "ROOT", map[string]any{"size": "1", "md5Checksum": md5Of("x")}),
				}})
			})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := listErr(b, ctx)
			want := "list " + b.String() + ": files.list handed out a page token it had handed out before: stopping rather than listing the same pages forever"
			if err == nil || err.Error() != want {
				t.Fatalf("List = %v after %d files.list requests; want %q", err, lists.Load(), want)
			}
			// The first page has no token given; the repeat is the
			// (cycle+1)th token handed out, seen on that page at the latest
			// for a short cycle.
			limit := int64(cycle + 1)
			if cycle > 64 { // beyond backends.TokenTrail's recent tokens
				limit = int64(5 * cycle)
			}
			if lists.Load() > limit {
				t.Errorf("%d files.list requests for a cycle of %d; want at most %d", lists.Load(), cycle, limit)
			}
		})
	}
}

// A folder that Drive lists among its own children, or among those of a
// folder inside it, made the walk endless: each round added a level to
// the keys. A folder already on the walk's path fails the listing, and so
// does nesting deeper than Drive allows (fresh ids at every level).
func TestListRefusesFolderLoops(t *testing.T) {
	file := func(parent string) map[string]any {
		return item("F-"+parent, "f.txt", "text/plain", parent, map[string]any{"size": "1", "md5Checksum": md5Of("x")})
	}
	for name, c := range map[string]struct {
		children func(parent string) []any
		want     string // after "list <backend>: "
	}{
		"folder inside itself": {
			children: func(parent string) []any {
				switch parent {
				case "ROOT":
					return []any{item("D1", "d", folderMime, "ROOT", nil)}
				case "D1":
					return []any{item("D1", "d", folderMime, "D1", nil), file("D1")}
				}
				return nil
			},
			want: `key "d": folder "d/d" (id D1) is listed inside itself: a folder loop`,
		},
		"folder inside its child": {
			children: func(parent string) []any {
				switch parent {
				case "ROOT":
					return []any{item("D1", "a", folderMime, "ROOT", nil)}
				case "D1":
					return []any{item("D2", "b", folderMime, "D1", nil)}
				case "D2":
					return []any{item("D1", "a", folderMime, "D2", nil), file("D2")}
				}
				return nil
			},
			want: `key "a/b": folder "a/b/a" (id D1) is listed inside itself: a folder loop`,
		},
		"root inside a folder": {
			children: func(parent string) []any {
				if parent == "ROOT" {
					return []any{item("D1", "a", folderMime, "ROOT", nil)}
				}
				return []any{item("ROOT", "up", folderMime, parent, nil)}
			},
			want: `key "a": folder "a/up" (id ROOT) is listed inside itself: a folder loop`,
		},
		"endless nesting": {
			children: func(parent string) []any {
				return []any{item(parent+"x", "d", folderMime, parent, nil)}
			},
			want: fmt.Sprintf(`key "%[1]s": folder "%[1]s/d" (id ROOT%[2]s): folder nesting deeper than Drive allows (128 levels below the root): a folder loop?`,
				strings.TrimSuffix(strings.Repeat("d/", 128), "/"), strings.Repeat("x", 129)),
		},
	} {
		t.Run(name, func(t *testing.T) {
			var lists atomic.Int64
			b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, call driveCall) {
				if call.kind != "list" {
					replyNotFound(w)
					return
				}
				lists.Add(1)
				var files []any
				for _, f := range c.children(call.parent) {
					if n := f.(map[string]any)["name"]; len(call.names) == 0 || call.names[0] == n {
						files = append(files, f)
					}
				}
				replyJSON(w, map[string]any{"files": files})
			})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			n, err := listErr(b, ctx)
			if want := "list " + b.String() + ": " + c.want; err == nil || err.Error() != want {
				t.Fatalf("List = %.300v after %d objects and %d files.list requests; want %q", err, n, lists.Load(), want)
			}
			if lists.Load() > 130 {
				t.Errorf("%d files.list requests", lists.Load())
			}
		})
	}
}

// Resolving a key walks one folder per segment: a key deeper than Drive's
// nesting limit names nothing Drive can hold, even where a folder loop
// would resolve it, and is refused before any request.
func TestKeyDeeperThanDriveAllows(t *testing.T) {
	var requests atomic.Int64
	b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, c driveCall) {
		requests.Add(1)
		if c.kind != "list" {
			replyNotFound(w)
			return
		}
		// Every folder holds itself as "d", and f.txt.
		files := []any{}
		for _, n := range c.names {
			switch n {
			case "d":
				files = append(files, item(c.parent, "d", folderMime, c.parent, nil))
			case "f.txt":
				files = append(files, item("F", "f.txt", "text/plain", c.parent, map[string]any{"size": "1", "md5Checksum": md5Of("x")}))
			}
		}
		replyJSON(w, map[string]any{"files": files})
	})
	dir := strings.TrimSuffix(strings.Repeat("d/", 129), "/")
	_, err := b.Stat(t.Context(), dir+"/f.txt")
	want := fmt.Sprintf(`stat %s: key %q: folder %q: folder nesting deeper than Drive allows (128 levels below the root): a folder loop?`, b, dir+"/f.txt", dir)
	if err == nil || err.Error() != want || requests.Load() != 0 {
		t.Errorf("Stat = %v after %d requests; want %q", err, requests.Load(), want)
	}
	// 128 levels resolve.
	dir = strings.TrimSuffix(strings.Repeat("d/", 128), "/")
	if o, err := b.Stat(t.Context(), dir+"/f.txt"); err != nil || o.Size != 1 {
		t.Errorf("Stat at 128 levels = %+v, %v", o, err)
	}
}

// JSON null where Drive sends an object decodes to a nil page, item or
// file, which the backend dereferenced: a panic (and with files.get of
// "root", one that could leave a lock held). Each is an error naming the
// backend and the key.
func TestNullRepliesAreErrors(t *testing.T) {
	pageCases := map[string]struct{ body, why string }{
		"null page":       {`null`, "files.list answered null instead of a page"},
		"null item":       {`{"files":[null]}`, "files.list answered a null item"},
		"item without id": {`{"files":[{"name":"a.txt","mimeType":"text/plain"}]}`, `files.list answered an item without an id (name "a.txt")`},
	}
	for name, c := range pageCases {
		t.Run(name, func(t *testing.T) {
			b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, call driveCall) {
				if call.kind == "list" {
					replyRaw(w, c.body)
					return
				}
				replyNotFound(w)
			})
			noPanic(t, "List", func() {
				if _, err := listErr(b, t.Context()); err == nil || err.Error() != "list "+b.String()+": "+c.why {
					t.Errorf("List = %v", err)
				}
			})
			noPanic(t, "Stat", func() { // findNamed
				if _, err := b.Stat(t.Context(), "a.txt"); err == nil || err.Error() != "stat "+b.String()+`: key "a.txt": `+c.why {
					t.Errorf("Stat = %v", err)
				}
			})
		})
	}

	// A Drive that answers Put's calls, with null for one of them.
	const data = "hello"
	putDrive := func(t *testing.T, folder, nullFor string, deletes *atomic.Int64) *Backend {
		var mu sync.Mutex
		return craftedBackend(t, folder, func(w http.ResponseWriter, r *http.Request, c driveCall) {
			mu.Lock()
			defer mu.Unlock()
			if c.kind == nullFor || c.kind == "get" && c.id == nullFor {
				replyRaw(w, "null")
				return
			}
			switch c.kind {
			case "list":
				replyJSON(w, map[string]any{"files": []any{}})
			case "generateIds":
				replyJSON(w, map[string]any{"ids": []string{"NEWID"}})
			case "get":
				if c.id == "root" {
					replyJSON(w, map[string]any{"id": "MYROOT", "name": "My Drive", "mimeType": folderMime})
					return
				}
				replyNotFound(w)
			case "upload":
				if r.URL.Query().Get("uploadType") == "resumable" && !strings.Contains(r.URL.Path, "session") {
					w.Header().Set("Location", "http://"+r.Host+"/upload/session")
					w.WriteHeader(http.StatusOK)
					return
				}
				replyJSON(w, item("NEWID", "a.txt", "text/plain", "ROOT", map[string]any{"size": "5", "md5Checksum": md5Of(data)}))
			case "delete":
				deletes.Add(1)
				w.WriteHeader(http.StatusNoContent)
			default:
				replyNotFound(w)
			}
		})
	}

	t.Run("generateIds", func(t *testing.T) {
		b := putDrive(t, "ROOT", "generateIds", new(atomic.Int64))
		noPanic(t, "Put", func() {
			// Without ids, the create goes without one.
			if o, err := b.Put(t.Context(), "a.txt", strings.NewReader(data), backends.Object{Size: 5}); err != nil || o.Size != 5 {
				t.Errorf("Put = %+v, %v", o, err)
			}
		})
	})
	t.Run("create", func(t *testing.T) {
		b := putDrive(t, "ROOT", "upload", new(atomic.Int64))
		noPanic(t, "Put", func() {
			_, err := b.Put(t.Context(), "a.txt", strings.NewReader(data), backends.Object{Size: 5})
			if want := "put " + b.String() + `: key "a.txt": the answer to the create lacks the new item (null, or no id)`; err == nil || err.Error() != want {
				t.Errorf("Put = %v; want %q", err, want)
			}
		})
	})
	t.Run("resumable upload", func(t *testing.T) {
		b := putDrive(t, "ROOT", "upload", new(atomic.Int64))
		noPanic(t, "Put", func() {
			_, err := b.Put(t.Context(), "a.txt", strings.NewReader(data), backends.Object{Size: -1})
			if want := "put " + b.String() + `: key "a.txt": the answer to the upload lacks the stored file (null, or no id)`; err == nil || err.Error() != want {
				t.Errorf("Put = %v; want %q", err, want)
			}
		})
	})
	t.Run("files.get of root", func(t *testing.T) {
		b := putDrive(t, "root", "root", new(atomic.Int64))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for range 2 { // a second call must not find a lock held
			noPanic(t, "Stat", func() {
				_, err := b.Stat(ctx, "a.txt")
				if want := "stat " + b.String() + `: key "a.txt": files.get of "root" (My Drive) answered without an id`; err == nil || err.Error() != want {
					t.Errorf("Stat = %v; want %q", err, want)
				}
			})
			noPanic(t, "Put", func() {
				_, err := b.Put(ctx, "a.txt", strings.NewReader(data), backends.Object{Size: 5})
				if want := "put " + b.String() + `: key "a.txt": files.get of "root" (My Drive) answered without an id`; err == nil || err.Error() != want {
					t.Errorf("Put = %v; want %q", err, want)
				}
			})
			noPanic(t, "CheckRoot", func() {
				err := b.CheckRoot(ctx, "")
				if want := "check folder " + b.String() + ": files.get of root answered without an item (null, or no id)"; err == nil || err.Error() != want {
					t.Errorf("CheckRoot = %v; want %q", err, want)
				}
			})
		}
		if ctx.Err() != nil {
			t.Fatal("calls after a null files.get of root hung")
		}
	})
	t.Run("files.get of a duplicate", func(t *testing.T) {
		b := putDrive(t, "ROOT", "DUP1", new(atomic.Int64))
		noPanic(t, "Stat", func() {
			_, err := b.Stat(t.Context(), "a (dup DUP1).txt")
			if want := "stat " + b.String() + `: key "a (dup DUP1).txt": files.get of DUP1 answered without an item (null, or no id)`; err == nil || err.Error() != want {
				t.Errorf("Stat = %v; want %q", err, want)
			}
		})
	})
}

// A 206 answer to a range request was read as if it started where asked,
// whatever its Content-Range said: the bytes of another range came back
// as the asked ones. The answer is checked as S3's are: 206, and a
// Content-Range that starts and ends where asked, with a length to match.
func TestRangedReadChecksContentRange(t *testing.T) {
	const data = "0123456789abcdefghij"
	const asked = "the server answered a request for bytes=10-14 with "
	for name, c := range map[string]struct {
		contentRange string
		status       int    // 0: 206
		length       int    // bytes sent; 0: as the Content-Range says
		err          string // "" for a good answer
	}{
		"from 0 for 10":     {contentRange: "bytes 0-19/20", err: asked + "bytes 0-19: they do not start at offset 10"},
		"from 11 for 10":    {contentRange: "bytes 11-14/20", err: asked + "bytes 11-14: they do not start at offset 10"},
		"missing":           {contentRange: "", err: asked + `Content-Range "", not "bytes first-last/size"`},
		"garbled":           {contentRange: "bytes ten-14/20", err: asked + `Content-Range "bytes ten-14/20", not "bytes first-last/size"`},
		"past the end":      {contentRange: "bytes 10-19/20", err: asked + `Content-Range "bytes 10-19/20": the range does not end where asked`},
		"short of the end":  {contentRange: "bytes 10-12/20", err: asked + `Content-Range "bytes 10-12/20": the range does not end where asked`},
		"another length":    {contentRange: "bytes 10-14/20", length: 6, err: asked + `Content-Range "bytes 10-14/20" but 6 bytes`},
		"range ignored":     {contentRange: "", status: http.StatusOK, length: 20, err: asked + "HTTP 200, not 206 Partial Content: it ignored the range, so its bytes do not start at offset 10"},
		"as asked":          {contentRange: "bytes 10-14/20"},
		"as asked, no size": {contentRange: "bytes 10-14/*"},
	} {
		t.Run(name, func(t *testing.T) {
			b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, call driveCall) {
				switch call.kind {
				case "list":
					replyJSON(w, map[string]any{"files": []any{item("F1", "a.txt", "text/plain", "ROOT", map[string]any{"size": "20", "md5Checksum": md5Of(data)})}})
				case "media":
					if c.contentRange != "" {
						w.Header().Set("Content-Range", c.contentRange)
					}
					var from, to int
					fmt.Sscanf(c.contentRange, "bytes %d-%d", &from, &to)
					if c.length > 0 {
						to = from + c.length - 1
					}
					w.Header().Set("Content-Length", strconv.Itoa(to-from+1))
					w.WriteHeader(cmp.Or(c.status, http.StatusPartialContent))
					io.WriteString(w, data[from:to+1])
				default:
					replyNotFound(w)
				}
			})
			rc, err := b.Open(t.Context(), "a.txt", 10, 5)
			if c.err != "" {
				if want := "open " + b.String() + `: key "a.txt": ` + c.err; err == nil || err.Error() != want {
					t.Errorf("Open = %v; want %q", err, want)
				}
				if err == nil {
					got, _ := io.ReadAll(rc)
					t.Errorf("read %q", got)
					rc.Close()
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got, err := io.ReadAll(rc); err != nil || string(got) != data[10:15] {
				t.Errorf("read %q, %v; want %q", got, err, data[10:15])
			}
		})
	}
}

// An upload's answer without md5Checksum was accepted on its size alone.
// The file's metadata is fetched again; without an md5 even then, or
// with a wrong one, the Put fails and a file it created is removed.
func TestPutVerifiesMD5WhenTheAnswerLacksIt(t *testing.T) {
	const data = "hello"
	for name, c := range map[string]struct {
		get     map[string]any // files.get's answer; nil: 404
		err     string         // "" for success
		deletes int64
	}{
		"md5 on a second look": {get: map[string]any{"size": "5", "md5Checksum": md5Of(data)}},
		"no md5 at all": {get: map[string]any{"size": "5"}, deletes: 1,
			err: "upload verification failed: Drive reports no md5Checksum for the stored file, so it cannot be verified"},
		"wrong md5": {get: map[string]any{"size": "5", "md5Checksum": md5Of("jello")}, deletes: 1,
			err: fmt.Sprintf("upload verification failed: Drive stored md5 %s; the data sent has md5 %s", md5Of("jello"), md5Of(data))},
		"gone": {deletes: 1,
			err: "upload verification failed: Drive's answer had no md5Checksum and the file is gone"},
	} {
		t.Run(name, func(t *testing.T) {
			var deletes atomic.Int64
			b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, call driveCall) {
				switch {
				case call.kind == "list":
					replyJSON(w, map[string]any{"files": []any{}})
				case call.kind == "generateIds":
					replyJSON(w, map[string]any{"ids": []string{"NEWID"}})
				case call.kind == "upload":
					replyJSON(w, item("NEWID", "a.txt", "text/plain", "ROOT", map[string]any{"size": "5"}))
				case call.kind == "get" && call.id == "NEWID" && c.get != nil:
					replyJSON(w, item("NEWID", "a.txt", "text/plain", "ROOT", c.get))
				case call.kind == "delete" && call.id == "NEWID":
					deletes.Add(1)
					w.WriteHeader(http.StatusNoContent)
				default:
					replyNotFound(w)
				}
			})
			o, err := b.Put(t.Context(), "a.txt", strings.NewReader(data), backends.Object{Size: 5})
			if c.err == "" {
				if err != nil || o.Size != 5 || o.Hash(backends.MD5) != md5Of(data) {
					t.Errorf("Put = %+v, %v; want size 5 and md5 %s", o, err, md5Of(data))
				}
			} else if want := "put " + b.String() + `: key "a.txt": ` + c.err; err == nil || err.Error() != want {
				t.Errorf("Put = %+v, %v; want %q", o, err, want)
			}
			if deletes.Load() != c.deletes {
				t.Errorf("%d deletes of the new file; want %d", deletes.Load(), c.deletes)
			}
		})
	}
}

// CheckRoot said "is not a folder but a " when Drive gave no mimeType.
func TestCheckRootWithoutMimeType(t *testing.T) {
	b := craftedBackend(t, "ROOT", func(w http.ResponseWriter, r *http.Request, c driveCall) {
		if c.kind == "get" && c.id == "ROOT" {
			replyJSON(w, item("ROOT", "backups", "", "PARENT", map[string]any{"mimeType": nil}))
			return
		}
		replyNotFound(w)
	})
	err := b.CheckRoot(t.Context(), "")
	if want := b.String() + `: folder_id ROOT ("backups") is not known to be a folder: Drive gave no mimeType for it`; err == nil || err.Error() != want {
		t.Errorf("CheckRoot = %v; want %q", err, want)
	}
	if errors.Is(err, backends.ErrNotFound) {
		t.Errorf("CheckRoot = %v: not a missing root", err)
	}
}
