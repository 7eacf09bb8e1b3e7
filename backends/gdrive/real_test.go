package gdrive

// Tests of the backend against the fake's realistic modes (issue 17).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// wantErr fails unless err is a permanent error naming key and containing
// every one of parts.
func wantErr(t *testing.T, what string, err error, key string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	msg := err.Error()
	if !IsPermanent(err) || !strings.Contains(msg, fmt.Sprintf("%q", key)) {
		t.Errorf("%s: %v; want a permanent error naming key %q", what, err, key)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: %v; want it to say %q", what, err, p)
		}
	}
}

func TestServiceAccountWithoutStorage(t *testing.T) {
	srv := newFake(t)
	srv.SetServiceAccount(true)
	b := mustNew(t, testOptions(srv, newFolder(srv)))
	for _, size := range []int{10, 3 << 20} { // multipart and resumable
		key := fmt.Sprintf("dir/f%d", size)
		_, err := b.Put(t.Context(), key, bytes.NewReader(make([]byte, size)), backends.Object{Size: int64(size)})
		wantErr(t, "Put as a service account", err, key, "service account has no Drive storage", "drive_id", "subject", "storageQuotaExceeded")
	}
	// A shared drive takes its files.
	opts := testOptions(srv, "")
	opts.DriveID = srv.AddSharedDrive("Team")
	backendtest.PutBytes(t, mustNew(t, opts), "dir/f", []byte("in a shared drive"))

	// quotaExceeded worded for a user still names the service-account fix.
	srv.SetServiceAccount(false)
	srv.AddFault(drivetest.Fault{Status: 403, Reason: "quotaExceeded", Match: func(r *http.Request, kind string) bool {
		return strings.HasPrefix(kind, "upload")
	}})
	_, err := b.Put(t.Context(), "q", strings.NewReader("q"), backends.Object{Size: 1})
	wantErr(t, "Put over quota", err, "q", "storage quota is exceeded", "drive_id", "subject", "quotaExceeded")
}

func TestAbusiveFile(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	data := backendtest.RandomBytes(3, 5000)
	srv.Add(drivetest.FileSpec{Name: "flagged.exe", Parent: root, Content: data, Abusive: true})
	b := mustNew(t, testOptions(srv, root))
	_, err := b.Open(t.Context(), "flagged.exe", 0, -1)
	wantErr(t, "Open of a flagged file", err, "flagged.exe", "malware or spam", "acknowledge_abuse = true", "cannotDownloadAbusiveFile")

	var acked atomic.Int64
	srv.SetHook(func(r *http.Request) {
		if r.URL.Query().Get("acknowledgeAbuse") == "true" {
			acked.Add(1)
		}
	})
	opts := testOptions(srv, root)
	opts.AcknowledgeAbuse = true
	if got := backendtest.ReadAll(t, mustNew(t, opts), "flagged.exe"); !bytes.Equal(got, data) {
		t.Errorf("with acknowledge_abuse the flagged file reads %d bytes; content differs", len(got))
	}
	if acked.Load() == 0 {
		t.Errorf("no request said acknowledgeAbuse=true")
	}
}

func TestTrashNeedsOwner(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	id := srv.Add(drivetest.FileSpec{Name: "theirs.txt", Parent: root, Content: []byte("not ours"), NotOwned: true})
	b := mustNew(t, testOptions(srv, root))
	err := b.Delete(t.Context(), "theirs.txt")
	wantErr(t, "Delete of a file owned by another account", err, "theirs.txt", "only the file's owner may move it to the trash", `delete_mode = "permanent"`, "insufficientFilePermissions")
	if fi, ok := srv.Get(id); !ok || fi.InTrash {
		t.Errorf("the refused file is gone or trashed: %+v", fi)
	}
}

func TestFilesOverDriveLimitRefused(t *testing.T) {
	srv := newFake(t)
	b := mustNew(t, testOptions(srv, newFolder(srv)))
	if err := backends.RefuseObject(b, backends.Object{Key: "k", Size: MaxFileSize}); err != nil {
		t.Errorf("a file of exactly 5,120 GB refused: %v", err)
	}
	err := backends.RefuseObject(b, backends.Object{Key: "k", Size: MaxFileSize + 1})
	if err == nil || !strings.Contains(err.Error(), "5,120 GB") {
		t.Errorf("a file over 5,120 GB: %v; want it refused", err)
	}
	srv.ResetStats()
	_, err = b.Put(t.Context(), "huge", strings.NewReader(""), backends.Object{Size: MaxFileSize + 1})
	wantErr(t, "Put over 5,120 GB", err, "huge", "5,120 GB")
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("Put over 5,120 GB sent %d requests", n)
	}
}

// One-request uploads stop at Google's documented 5 MB, whatever
// chunk_size says; above, a resumable session (seen in the fake's log).
func TestMultipartUpTo5MB(t *testing.T) {
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	opts.ChunkSize = 16 << 20
	b := mustNew(t, opts)
	for _, c := range []struct {
		size      int
		multipart bool
	}{{0, true}, {MaxMultipartSize, true}, {MaxMultipartSize + 1, false}, {12 << 20, false}} {
		data := backendtest.RandomBytes(int64(c.size), c.size)
		srv.ResetStats()
		backendtest.PutBytes(t, b, fmt.Sprintf("f%d", c.size), data)
		st := srv.Stats()
		mp, init := st.ByKind["upload-multipart"], st.ByKind["upload-init"]
		if c.multipart && (mp != 1 || init != 0) || !c.multipart && (mp != 0 || init != 1 || st.ByKind["upload-chunk"] == 0) {
			t.Errorf("%d bytes with chunk_size 16 MiB: requests %v; want multipart %v", c.size, st.ByKind, c.multipart)
		}
		if got := backendtest.ReadAll(t, b, fmt.Sprintf("f%d", c.size)); !bytes.Equal(got, data) {
			t.Errorf("%d bytes: content differs", c.size)
		}
	}
	// A stream of unknown size over 5 MB goes resumable too.
	data := backendtest.RandomBytes(7, 6<<20)
	srv.ResetStats()
	if _, err := b.Put(t.Context(), "stream", bytes.NewReader(data), backends.Object{Size: -1}); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.ByKind["upload-multipart"] != 0 || st.ByKind["upload-init"] != 1 || st.MaxChunk > MaxMultipartSize {
		t.Errorf("6 MiB of unknown size: requests %v, largest chunk %d; want a resumable session in chunks under 5 MB", st.ByKind, st.MaxChunk)
	}
	if got := backendtest.ReadAll(t, b, "stream"); !bytes.Equal(got, data) {
		t.Errorf("the stream's content differs")
	}
}

// age sends n requests to the fake, so that page tokens handed out
// before grow old.
func age(t *testing.T, srv *drivetest.Server, n int) {
	for range n {
		resp, err := http.Get(srv.URL + "/drive/v3/about")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

func TestExpiredPageTokenRestartsFolder(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	var want []string
	for i := range 30 {
		name := fmt.Sprintf("f%02d", i)
		srv.Add(drivetest.FileSpec{Name: name, Parent: root, Content: []byte(name)})
		want = append(want, name)
	}
	logs := &logBuffer{}
	opts := testOptions(srv, root)
	opts.ListPageSize = 5
	opts.Logger = newLogger(logs)
	b := mustNew(t, opts)
	srv.SetPageTokenLife(3)
	srv.ResetStats()
	var got []string
	err := b.List(t.Context(), "", func(o backends.Object) error {
		got = append(got, o.Key)
		if len(got) == 8 || len(got) == 21 {
			age(t, srv, 5) // a slow consumer: the next page's token expires
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List with expiring page tokens: %v", err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("listed %q;\nwant each of the 30 once: %q", got, want)
	}
	if st := srv.Stats(); st.Faults != 2 || logs.Count("page token expired") != 2 {
		t.Errorf("%d tokens refused, %d restarts logged; want 2 of each\n%s", st.Faults, logs.Count("page token expired"), logs)
	}

	// A folder that changed before the restart fails the listing rather
	// than list an item twice or miss one.
	got = nil
	err = b.List(t.Context(), "", func(o backends.Object) error {
		got = append(got, o.Key)
		if len(got) == 8 {
			srv.Add(drivetest.FileSpec{Name: "a-first", Parent: root, Content: []byte("new")})
			age(t, srv, 5)
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "changed while its listing started over") {
		t.Errorf("List of a folder that changed before a restart: %v (listed %d); want it to fail saying so", err, len(got))
	}
}

// Docs in a shared drive export like any other: files.export takes no
// supportsAllDrives parameter and Drive serves them (the fake once
// answered 404).
func TestSharedDriveDocsExport(t *testing.T) {
	srv := newFake(t)
	sd := srv.AddSharedDrive("Team")
	sub := srv.Mkdir(sd, "notes")
	srv.Add(drivetest.FileSpec{Name: "Plan", Parent: sub, MimeType: drivetest.DocumentMime, Content: []byte("the plan")})
	srv.Add(drivetest.FileSpec{Name: "Budget", Parent: sd, MimeType: drivetest.SpreadsheetMime, Content: []byte("1,2,3")})
	opts := testOptions(srv, "")
	opts.DriveID = sd
	opts.ExportFormats = map[string]string{"spreadsheet": "csv"}
	b := mustNew(t, opts)
	if got := keysOf(t, b, ""); strings.Join(got, ",") != "Budget.csv,notes/Plan.docx" {
		t.Errorf("keys = %q", got)
	}
	if got, want := backendtest.ReadAll(t, b, "notes/Plan.docx"), drivetest.ExportBytes(docxMime, []byte("the plan")); !bytes.Equal(got, want) {
		t.Errorf("the Doc exported as %q; want %q", got, want)
	}
	if got, want := backendtest.ReadAll(t, b, "Budget.csv"), drivetest.ExportBytes("text/csv", []byte("1,2,3")); !bytes.Equal(got, want) {
		t.Errorf("the Sheet exported as %q; want %q", got, want)
	}
}

// A body that stalls mid-transfer on an open connection is given up after
// the idle timeout and retried from where it was: a download resumes at
// its offset, an upload chunk is sent again.
func TestStalledBodiesRetried(t *testing.T) {
	srv := newFake(t)
	logs := &logBuffer{}
	opts := testOptions(srv, newFolder(srv))
	opts.IdleTimeout = 300 * time.Millisecond
	opts.Logger = newLogger(logs)
	b := mustNew(t, opts)
	data := backendtest.RandomBytes(11, 3<<20+5) // 4 chunks of 1 MiB
	srv.AddFault(drivetest.Fault{Stall: 3 * time.Second, StallAfter: 100000, Count: 1, Match: func(r *http.Request, kind string) bool {
		return kind == "upload-chunk"
	}})
	backendtest.PutBytes(t, b, "big", data)
	if st := srv.Stats(); st.Faults != 1 || b.Backoffs() == 0 {
		t.Errorf("upload: %d stalls injected, %d retries; want 1 and at least 1", st.Faults, b.Backoffs())
	}

	srv.ResetStats()
	srv.AddFault(drivetest.Fault{Stall: 3 * time.Second, StallAfter: 200000, Count: 1, Match: func(r *http.Request, kind string) bool {
		return kind == "media"
	}})
	if got := backendtest.ReadAll(t, b, "big"); !bytes.Equal(got, data) {
		t.Errorf("the stalled download read %d bytes; content differs", len(got))
	}
	st := srv.Stats()
	if st.Faults != 1 || logs.Count("download interrupted; resuming") != 1 {
		t.Errorf("download: %d stalls injected, %d resumes logged; want 1 and 1\n%s", st.Faults, logs.Count("download interrupted; resuming"), logs)
	}
	// Resumed from its offset: what was sent before the stall is not sent
	// again (a little slack for what the client had not read yet).
	if st.Downloaded > int64(len(data))+200000 {
		t.Errorf("the fake sent %d bytes for a %d-byte file stalled after 200000", st.Downloaded, len(data))
	}
}

// Drive's page tokens behave as offsets: an item removed before the
// cursor makes another vanish from the listing. The backend reads the
// changes made during the walk and fails such a listing rather than let
// the plan delete the copy of the item it missed.
func TestListingThatChangesUnderneathFails(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	other := newFolder(srv) // outside the listed tree
	ids := map[string]string{}
	for i := range 10 {
		name := fmt.Sprintf("f%02d", i)
		ids[name] = srv.Add(drivetest.FileSpec{Name: name, Parent: root, Content: []byte(name)})
	}
	opts := testOptions(srv, root)
	opts.ListPageSize = 3
	b := mustNew(t, opts)

	// Changes elsewhere in the account do not fail the listing.
	var got []string
	err := b.List(t.Context(), "", func(o backends.Object) error {
		got = append(got, o.Key)
		if len(got) == 4 {
			srv.Add(drivetest.FileSpec{Name: "elsewhere", Parent: other, Content: []byte("x")})
		}
		return nil
	})
	if err != nil || len(got) != 10 {
		t.Fatalf("List with a change outside the folder: %v after %d keys; want all 10", err, len(got))
	}

	got = nil
	err = b.List(t.Context(), "", func(o backends.Object) error {
		got = append(got, o.Key)
		if len(got) == 4 {
			srv.Trash(ids["f00"]) // before the cursor
		}
		return nil
	})
	if !errors.Is(err, ErrChangedWhileListing) || !strings.Contains(err.Error(), "source changed during listing") {
		t.Errorf("List while an item before the cursor went: %v; want ErrChangedWhileListing", err)
	}
	// The fake has Drive's habit: the listing itself missed an item
	// that is still there.
	if strings.Contains(strings.Join(got, ","), "f06") {
		t.Errorf("listed %q: the offset habit did not show (f06 should have vanished)", got)
	}
	// Items deleted for good carry no place: one the walk took fails
	// it, one elsewhere (or already in the trash) does not.
	perm := testOptions(srv, root)
	perm.DeleteMode = DeletePermanent
	inside := mustNew(t, perm)
	perm.FolderID = other
	outside := mustNew(t, perm)
	for _, c := range []struct {
		what string
		del  func() error
		fail bool
	}{
		{"an item elsewhere deleted for good", func() error { return outside.Delete(t.Context(), "elsewhere") }, false},
		{"a listed item deleted for good", func() error { return inside.Delete(t.Context(), "f01") }, true},
	} {
		got = nil
		err = b.List(t.Context(), "", func(o backends.Object) error {
			if got = append(got, o.Key); len(got) == 4 {
				if err := c.del(); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		})
		if failed := errors.Is(err, ErrChangedWhileListing); failed != c.fail {
			t.Errorf("List while %s: %v; want failure %v", c.what, err, c.fail)
		}
	}
}

// A folder of 20,000 files (SYNCER_GDRIVE_LAG_FILES to change it; the
// figure for 100,000 is in BENCHMARKS.md) just created, so every name
// query lags, is listed with as many name queries as with no lag (the
// seen-set's false positives, each settled by one query), every key once.
func TestLargeFolderUnderNameLag(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("SYNCER_GDRIVE_LAG_FILES")); err == nil && v > 0 {
		n = v
	}
	for i := range n {
		srv.Add(drivetest.FileSpec{Name: fmt.Sprintf("file-%06d.txt", i), Parent: root})
	}
	b := mustNew(t, testOptions(srv, root))
	count := func(lag time.Duration) (int64, int64, uint64) {
		srv.SetNameLag(lag)
		srv.ResetStats()
		var keys int64
		var last string
		peak, _ := heapWatch(func() {
			err := b.List(t.Context(), "", func(o backends.Object) error {
				if o.Key <= last {
					t.Errorf("key %q after %q", o.Key, last)
				}
				last = o.Key
				keys++
				return nil
			})
			if err != nil {
				t.Errorf("List: %v", err)
			}
		})
		return keys, srv.NameQueries(), peak
	}
	keys0, q0, peak0 := count(0)
	keys, q, peak := count(time.Hour)
	t.Logf("%d files: %d name queries without lag, %d under lag; heap peak (fake included) +%d KiB / +%d KiB; requests %v", n, q0, q, peak0>>10, peak>>10, srv.Stats().ByKind)
	if keys0 != int64(n) || keys != int64(n) {
		t.Errorf("listed %d and %d keys; want %d", keys0, keys, n)
	}
	if q > q0 {
		t.Errorf("%d name queries under lag; want no more than the %d without", q, q0)
	}
}

// Under name-search lag, a Delete right after the create (by another
// process: no folder cache) still finds the file, by listing, and
// trashes it rather than report a missing key deleted.
func TestDeleteUnderNameLag(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	srv.SetNameLag(time.Hour)
	opts := testOptions(srv, root)
	backendtest.PutBytes(t, mustNew(t, opts), "d/e/new.txt", []byte("just written"))
	b := mustNew(t, opts) // a later run
	if err := b.Delete(t.Context(), "d/e/new.txt"); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, b, ""); len(got) != 0 {
		t.Errorf("after Delete under lag: %q; want nothing", got)
	}
	if err := b.Delete(t.Context(), "d/e/never.txt"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
}

// Under name-search lag, a later run neither makes a twin of a folder an
// earlier run created nor a second file for a key its state records
// (backends.WithExisting, as apply marks updates).
func TestWritesUnderNameLag(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	srv.SetNameLag(time.Hour)
	opts := testOptions(srv, root)
	backendtest.PutBytes(t, mustNew(t, opts), "d/a.txt", []byte("first"))
	b := mustNew(t, opts) // a later run
	backendtest.PutBytes(t, b, "d/b.txt", []byte("new in the same folder"))
	ctx := backends.WithExisting(t.Context())
	if _, err := b.Put(ctx, "d/a.txt", strings.NewReader("second"), backends.Object{Size: 6}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Find(root, "d"); len(got) != 1 {
		t.Errorf("%d folders named d; want 1 (no twin)", len(got))
	}
	if got := keysOf(t, b, ""); strings.Join(got, ",") != "d/a.txt,d/b.txt" {
		t.Errorf("keys = %q; want d/a.txt and d/b.txt, no dup", got)
	}
	if got := backendtest.ReadAll(t, b, "d/a.txt"); string(got) != "second" {
		t.Errorf("d/a.txt = %q; want it updated in place", got)
	}
}
