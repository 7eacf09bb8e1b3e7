package gdrive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/gdrive/drivetest"
)

const docxMime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

func keysOf(t *testing.T, b backends.Backend, prefix string) []string {
	t.Helper()
	return backendtest.Keys(backendtest.ListAll(t, b, prefix))
}

func TestGoogleDocsExported(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	mod := time.Date(2024, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	srv.Add(drivetest.FileSpec{Name: "Report", Parent: root, MimeType: drivetest.DocumentMime, Content: []byte("report text"), Modified: mod})
	srv.Add(drivetest.FileSpec{Name: "Budget", Parent: root, MimeType: drivetest.SpreadsheetMime, Content: []byte("1,2,3")})
	srv.Add(drivetest.FileSpec{Name: "Deck", Parent: root, MimeType: drivetest.PresentationMime})
	srv.Add(drivetest.FileSpec{Name: "Sketch", Parent: root, MimeType: drivetest.DrawingMime})
	srv.Add(drivetest.FileSpec{Name: "Survey", Parent: root, MimeType: "application/vnd.google-apps.form"})
	srv.Add(drivetest.FileSpec{Name: "Huge", Parent: root, MimeType: drivetest.DocumentMime, Content: bytes.Repeat([]byte("x"), 2000)})
	srv.Add(drivetest.FileSpec{Name: "plain.txt", Parent: root, Content: []byte("plain")})
	srv.SetExportLimit(1000)

	logs := &logBuffer{}
	opts := testOptions(srv, root)
	opts.Logger = newLogger(logs)
	b := mustNew(t, opts)
	objs := backendtest.ListAll(t, b, "")
	want := []string{"Budget.xlsx", "Deck.pptx", "Huge.docx", "Report.docx", "Sketch.svg", "plain.txt"}
	if got := backendtest.Keys(objs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %q; want %q", got, want)
	}
	r := objs["Report.docx"]
	if r.Size != -1 || !r.ModTime.Equal(mod) || r.Hashes != nil {
		t.Errorf("Doc listed as %+v; want size -1, modtime %v, no hashes", r, mod)
	}
	if logs.Count("cannot be exported") != 1 {
		t.Errorf("the Form was not noted in the log:\n%s", logs)
	}
	if got := backendtest.ReadAll(t, b, "Report.docx"); !bytes.Equal(got, drivetest.ExportBytes(docxMime, []byte("report text"))) {
		t.Errorf("export = %q", got)
	}
	if got := backendtest.ReadRange(t, b, "Report.docx", 7, 5); string(got) != string(drivetest.ExportBytes(docxMime, nil)[7:12]) {
		t.Errorf("export range = %q", got)
	}
	st, err := b.Stat(t.Context(), "Report.docx")
	if err != nil || st.Size != -1 {
		t.Errorf("Stat = %+v, %v", st, err)
	}
	backendtest.AssertNotFound(t, b, "Report")
	backendtest.AssertNotFound(t, b, "Survey")

	// Too large to export: a clear, permanent per-object error; the rest
	// still reads.
	_, err = b.Open(t.Context(), "Huge.docx", 0, -1)
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "too large to export") || !strings.Contains(err.Error(), `"Huge.docx"`) {
		t.Errorf("export over the limit: %v", err)
	}
	if got := backendtest.ReadAll(t, b, "plain.txt"); string(got) != "plain" {
		t.Errorf("plain.txt = %q", got)
	}

	// An edit in Drive shows as a new modification time.
	later := mod.Add(time.Hour)
	for _, f := range srv.Find(root, "Report") {
		srv.Update(f.ID, []byte("edited"), later)
	}
	if o := backendtest.ListAll(t, b, "")["Report.docx"]; !o.ModTime.Equal(later) {
		t.Errorf("after an edit: ModTime = %v; want %v", o.ModTime, later)
	}

	// Other formats.
	opts.ExportFormats = map[string]string{"document": "pdf", "spreadsheet": "csv", "drawing": "png"}
	b2 := mustNew(t, opts)
	want = []string{"Budget.csv", "Deck.pptx", "Huge.pdf", "Report.pdf", "Sketch.png", "plain.txt"}
	if got := keysOf(t, b2, ""); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("keys with other formats = %q; want %q", got, want)
	}
	if got := backendtest.ReadAll(t, b2, "Budget.csv"); !bytes.Equal(got, drivetest.ExportBytes("text/csv", []byte("1,2,3"))) {
		t.Errorf("csv export = %q", got)
	}
	opts.ExportFormats = map[string]string{"spreadsheet": "docx"}
	if _, err := New(t.Context(), opts); err == nil {
		t.Errorf("New accepted a spreadsheet exported as docx")
	}

	// Skipped.
	opts.ExportFormats = nil
	opts.SkipGoogleDocs = true
	b3 := mustNew(t, opts)
	if got := keysOf(t, b3, ""); strings.Join(got, ",") != "plain.txt" {
		t.Errorf("keys with skip_google_docs = %q", got)
	}
	backendtest.AssertNotFound(t, b3, "Report.docx")
}

func TestDuplicateNames(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	// Created out of id order, so the oldest is decided by time.
	ids := make([]string, 3)
	for i, age := range []int{2, 0, 1} {
		ids[i] = srv.Add(drivetest.FileSpec{Name: "photo.jpg", Parent: root, Content: []byte(fmt.Sprintf("photo %d", i)), Created: t0.Add(time.Duration(age) * time.Hour)})
	}
	dirA := srv.Add(drivetest.FileSpec{Name: "dir", Parent: root, MimeType: drivetest.FolderMime, Created: t0})
	dirB := srv.Add(drivetest.FileSpec{Name: "dir", Parent: root, MimeType: drivetest.FolderMime, Created: t0.Add(time.Hour)})
	srv.Add(drivetest.FileSpec{Name: "a", Parent: dirA, Content: []byte("in A")})
	srv.Add(drivetest.FileSpec{Name: "a", Parent: dirB, Content: []byte("in B")})
	doc := srv.Add(drivetest.FileSpec{Name: "Report", Parent: root, MimeType: drivetest.DocumentMime, Content: []byte("doc"), Created: t0})
	srv.Add(drivetest.FileSpec{Name: "Report.docx", Parent: root, Content: []byte("binary"), Created: t0.Add(time.Hour)})
	srv.Add(drivetest.FileSpec{Name: "A.txt", Parent: root, Content: []byte("upper")})
	srv.Add(drivetest.FileSpec{Name: "a.txt", Parent: root, Content: []byte("lower")})
	srv.Add(drivetest.FileSpec{Name: "a/b", Parent: root, Content: []byte("slash")})

	opts := testOptions(srv, root)
	opts.ListPageSize = 2 // duplicates straddle pages
	b := mustNew(t, opts)
	want := []string{
		"A.txt", "Report (dup " + doc + ").docx", "Report.docx", "a.txt", "a∕b",
		"dir (dup " + dirB + ")/a", "dir/a",
		"photo (dup " + ids[0] + ").jpg", "photo (dup " + ids[2] + ").jpg", "photo.jpg",
	}
	sort.Strings(want)
	got := keysOf(t, b, "")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for key, content := range map[string]string{
		"photo.jpg":                      "photo 1",
		"photo (dup " + ids[0] + ").jpg": "photo 0",
		"photo (dup " + ids[2] + ").jpg": "photo 2",
		"dir/a":                          "in A",
		"dir (dup " + dirB + ")/a":       "in B",
		"Report.docx":                    "binary",
		"Report (dup " + doc + ").docx":  string(drivetest.ExportBytes(docxMime, []byte("doc"))),
		"a∕b":                            "slash",
		"A.txt":                          "upper",
		"a.txt":                          "lower",
	} {
		if got := backendtest.ReadAll(t, b, key); string(got) != content {
			t.Errorf("%q = %q; want %q", key, got, content)
		}
	}
	// The same keys through prefixes.
	if got := keysOf(t, b, "photo ("); len(got) != 2 {
		t.Errorf("List(\"photo (\") = %q", got)
	}
	if got := keysOf(t, b, "dir (dup "+dirB+")/"); len(got) != 1 {
		t.Errorf("List in the duplicate folder = %q", got)
	}
	// A dup key that names nothing is missing; the plain name of a dup is
	// the oldest.
	backendtest.AssertNotFound(t, b, "photo (dup 1NoSuchId0000).jpg")

	// Put to a dup key updates that very file; Delete removes only it.
	dup0 := "photo (dup " + ids[0] + ").jpg"
	backendtest.PutBytes(t, b, dup0, []byte("replaced"))
	if got, _ := srv.Content(ids[0]); string(got) != "replaced" {
		t.Errorf("Put to %q did not update %s in place: %q", dup0, ids[0], got)
	}
	if err := b.Delete(t.Context(), dup0); err != nil {
		t.Fatal(err)
	}
	if fi, _ := srv.Get(ids[0]); !fi.Trashed {
		t.Errorf("Delete(%q) did not trash %s", dup0, ids[0])
	}
	if got := backendtest.ReadAll(t, b, "photo.jpg"); string(got) != "photo 1" {
		t.Errorf("photo.jpg after deleting a dup = %q", got)
	}

	// A key with "∕" is a name with "/" in Drive.
	backendtest.PutBytes(t, b, "x∕y", []byte("made"))
	if fs := srv.Find(root, "x/y"); len(fs) != 1 {
		t.Errorf("Put(\"x∕y\") made %d files named x/y", len(fs))
	}
}

func TestShortcutsSkipped(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	sub := srv.Mkdir(root, "sub")
	target := srv.Add(drivetest.FileSpec{Name: "file", Parent: sub, Content: []byte("x")})
	// A loop: a shortcut in sub pointing at sub's parent.
	srv.Add(drivetest.FileSpec{Name: "loop", Parent: sub, MimeType: drivetest.ShortcutMime, ShortcutTarget: root})
	srv.Add(drivetest.FileSpec{Name: "link", Parent: root, MimeType: drivetest.ShortcutMime, ShortcutTarget: target})
	logs := &logBuffer{}
	opts := testOptions(srv, root)
	opts.Logger = newLogger(logs)
	b := mustNew(t, opts)
	if got := keysOf(t, b, ""); strings.Join(got, ",") != "sub/file" {
		t.Errorf("keys = %q; want [sub/file]", got)
	}
	if n := logs.Count("skipping a shortcut"); n != 2 {
		t.Errorf("%d shortcut notes in the log; want 2:\n%s", n, logs)
	}
	backendtest.AssertNotFound(t, b, "link")
	backendtest.AssertNotFound(t, b, "sub/loop")
}

func TestTrashedExcluded(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	srv.Add(drivetest.FileSpec{Name: "gone", Parent: root, Trashed: true})
	dir := srv.Mkdir(root, "dir")
	srv.Add(drivetest.FileSpec{Name: "inside", Parent: dir})
	srv.Add(drivetest.FileSpec{Name: "kept", Parent: root})
	srv.Trash(dir)
	b := mustNew(t, testOptions(srv, root))
	if got := keysOf(t, b, ""); strings.Join(got, ",") != "kept" {
		t.Errorf("keys = %q; want [kept]", got)
	}
	backendtest.AssertNotFound(t, b, "gone")
	backendtest.AssertNotFound(t, b, "dir/inside")

	// Delete modes: trash (default) keeps the file in the trash;
	// permanent removes it.
	backendtest.PutBytes(t, b, "t", []byte("t"))
	id := srv.Find(root, "t")[0].ID
	if err := b.Delete(t.Context(), "t"); err != nil {
		t.Fatal(err)
	}
	if fi, ok := srv.Get(id); !ok || !fi.Trashed {
		t.Errorf("trash mode: %+v, %v", fi, ok)
	}
	opts := testOptions(srv, root)
	opts.DeleteMode = DeletePermanent
	bp := mustNew(t, opts)
	backendtest.PutBytes(t, bp, "p", []byte("p"))
	id = srv.Find(root, "p")[0].ID
	if err := bp.Delete(t.Context(), "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Get(id); ok {
		t.Errorf("permanent mode left the file")
	}
}

// TestRateLimitStorm: a third of the requests answer 403
// userRateLimitExceeded for a while; every operation still succeeds, and
// the backoffs are logged.
func TestRateLimitStorm(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	logs := &logBuffer{}
	opts := testOptions(srv, root)
	opts.ChunkSize = 256 << 10
	opts.Logger = newLogger(logs)
	b := mustNew(t, opts)
	srv.AddFault(drivetest.Fault{Status: 403, Fraction: 1.0 / 3, Count: 150})
	contents := map[string][]byte{}
	for i := range 20 {
		key := fmt.Sprintf("storm/d%d/f%02d", i%3, i)
		contents[key] = backendtest.RandomBytes(int64(i), 1000*i)
	}
	contents["storm/big.bin"] = backendtest.RandomBytes(99, 3<<20+17) // resumable, 13 chunks
	for k, data := range contents {
		backendtest.PutBytes(t, b, k, data)
	}
	for k, data := range contents {
		if got := backendtest.ReadAll(t, b, k); !bytes.Equal(got, data) {
			t.Errorf("%q differs after the storm", k)
		}
	}
	objs := backendtest.ListAll(t, b, "")
	if len(objs) != len(contents) {
		t.Errorf("listed %d of %d objects", len(objs), len(contents))
	}
	if err := b.Delete(t.Context(), "storm/d0/f00"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	st := srv.Stats()
	if st.Faults < 20 {
		t.Errorf("only %d faults were injected", st.Faults)
	}
	if b.Backoffs() < st.Faults/2 || logs.Count("backing off") == 0 || logs.Count("userRateLimitExceeded") == 0 {
		t.Errorf("backoffs = %d for %d faults; log:\n%.2000s", b.Backoffs(), st.Faults, logs)
	}
}

func TestTransientErrors(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	opts := testOptions(srv, root)
	opts.ResponseTimeout = 300 * time.Millisecond
	b := mustNew(t, opts)
	backendtest.PutBytes(t, b, "k", []byte("value"))

	srv.AddFault(drivetest.Fault{Status: 429, Count: 2, RetryAfter: time.Second})
	start := time.Now()
	if got := backendtest.ReadAll(t, b, "k"); string(got) != "value" {
		t.Errorf("after 429s: %q", got)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("Retry-After: 1 was not honoured (took %v for two 429s)", d)
	}
	srv.AddFault(drivetest.Fault{Status: 503, Count: 3})
	srv.AddFault(drivetest.Fault{Status: 500, Count: 2})
	if got := backendtest.ReadAll(t, b, "k"); string(got) != "value" {
		t.Errorf("after 5xx: %q", got)
	}
	srv.AddFault(drivetest.Fault{Stall: 5 * time.Second, Count: 1})
	if got := keysOf(t, b, ""); len(got) != 1 {
		t.Errorf("after a stalled request: %q", got)
	}
	// A download cut short resumes where it broke.
	data := backendtest.RandomBytes(5, 300000)
	backendtest.PutBytes(t, b, "cut", data)
	srv.AddFault(drivetest.Fault{CutAfter: 100000, Count: 2})
	if got := backendtest.ReadAll(t, b, "cut"); !bytes.Equal(got, data) {
		t.Errorf("cut download read %d bytes; content differs", len(got))
	}
	if srv.Stats().Faults == 0 {
		t.Errorf("no faults injected")
	}
}

func TestPermanentErrorsFailFast(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	b := mustNew(t, testOptions(srv, root))
	backendtest.PutBytes(t, b, "dir/a", []byte("a"))
	srv.ResetStats()
	srv.AddFault(drivetest.Fault{Status: 403, Reason: "storageQuotaExceeded", Match: func(r *http.Request, kind string) bool {
		return strings.HasPrefix(kind, "upload")
	}})
	_, err := b.Put(t.Context(), "dir/b", strings.NewReader("b"), backends.Object{Size: 1})
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "quota") || !strings.Contains(err.Error(), `"dir/b"`) || !strings.Contains(err.Error(), `gdrive "test"`) {
		t.Errorf("Put over quota: %v", err)
	}
	if n := srv.Stats().ByKind["upload-multipart"]; n != 1 {
		t.Errorf("a permanent error was retried: %d upload requests", n)
	}
	srv.ClearFaults()
	srv.AddFault(drivetest.Fault{Status: 403, Reason: "insufficientFilePermissions"})
	_, err = b.Stat(t.Context(), "dir/a")
	if !IsPermanent(err) || !strings.Contains(err.Error(), "permissions") {
		t.Errorf("Stat without permission: %v", err)
	}
	srv.ClearFaults()
	// A root folder that does not exist lists nothing; writing there
	// fails naming the problem.
	nb := mustNew(t, testOptions(srv, "1NoSuchFolder000000"))
	if got := keysOf(t, nb, ""); len(got) != 0 {
		t.Errorf("missing root lists %q", got)
	}
	if _, err := nb.Put(t.Context(), "x", strings.NewReader("x"), backends.Object{Size: 1}); err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Put into a missing root: %v", err)
	}
}

// requests_per_second paces every request: the pacer holds one request,
// and with no refill in sight every later one is refused before it is sent
// (its context would end first): the fake sees exactly one.
func TestRequestsPerSecond(t *testing.T) {
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	opts.RequestsPerSecond = 0.0001 // one now, the next in ~3 hours
	b := mustNew(t, opts)
	srv.ResetStats()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for range 3 {
		if _, err := b.Stat(ctx, "missing"); err == nil || !strings.Contains(err.Error(), "rate") {
			t.Fatalf("stat: %v; want it refused by the pacer", err)
		}
	}
	if n := srv.Stats().Requests; n != 1 {
		t.Fatalf("the fake saw %d requests; want 1 (the rest waited for the pacer)", n)
	}
}

// The request hook (metrics) hears each request with its Drive operation
// and status.
func TestRequestHook(t *testing.T) {
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	var mu sync.Mutex
	seen := map[string]int{}
	opts.Name = "team"
	opts.Requests = func(backend, op string, status int) {
		mu.Lock()
		seen[fmt.Sprintf("%s %s %d", backend, op, status)]++
		mu.Unlock()
	}
	b := mustNew(t, opts)
	backendtest.PutBytes(t, b, "a/b.txt", []byte("hello"))
	if _, err := b.Stat(t.Context(), "nothing"); !errors.Is(err, backends.ErrNotFound) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"team files.list 200", "team files.create 200"} {
		if seen[want] == 0 {
			t.Errorf("no %q among %v", want, seen)
		}
	}
}

func TestSharedDrive(t *testing.T) {
	srv := newFake(t)
	sd := srv.AddSharedDrive("Team")
	opts := testOptions(srv, "")
	opts.DriveID = sd
	b := mustNew(t, opts)
	if b.FolderID() != sd {
		t.Errorf("FolderID = %q; want the drive's id", b.FolderID())
	}
	backendtest.PutBytes(t, b, "a/b.txt", []byte("in a shared drive"))
	if got := keysOf(t, b, ""); strings.Join(got, ",") != "a/b.txt" {
		t.Errorf("keys = %q", got)
	}
	if got := backendtest.ReadAll(t, b, "a/b.txt"); string(got) != "in a shared drive" {
		t.Errorf("content = %q", got)
	}
	if err := b.Delete(t.Context(), "a/b.txt"); err != nil {
		t.Fatal(err)
	}
	backendtest.AssertEmpty(t, b)
}

func TestMyDriveRoot(t *testing.T) {
	srv := newFake(t)
	b := mustNew(t, testOptions(srv, "root"))
	backendtest.PutBytes(t, b, "x", []byte("1"))
	// A duplicate at the root, addressed through the "root" alias.
	id := srv.Add(drivetest.FileSpec{Name: "x", Content: []byte("2"), Created: time.Now().Add(time.Hour)})
	if got := backendtest.ReadAll(t, b, "x (dup "+id+")"); string(got) != "2" {
		t.Errorf("dup at the root = %q", got)
	}
	if len(srv.Find("", "x")) != 2 {
		t.Errorf("files named x in My Drive: %d", len(srv.Find("", "x")))
	}
}

func TestUpdateInPlaceKeepsID(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	b := mustNew(t, testOptions(srv, root))
	first := backendtest.PutBytes(t, b, "f", []byte("one"))
	id := srv.Find(root, "f")[0].ID
	second := backendtest.PutBytes(t, b, "f", bytes.Repeat([]byte("two"), 1<<20)) // resumable
	if fs := srv.Find(root, "f"); len(fs) != 1 || fs[0].ID != id {
		t.Errorf("update made %+v; want one file with id %s", fs, id)
	}
	if first.ETag == second.ETag || second.ETag == "" {
		t.Errorf("ETags %q, %q; want a new revision", first.ETag, second.ETag)
	}
	if srv.Stats().ByKind["update"]+srv.Stats().ByKind["upload-init"] == 0 {
		t.Errorf("no update request")
	}
}

func TestExpiredSessionFailsCleanly(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	b := mustNew(t, testOptions(srv, root))
	srv.ExpireSessions(404)
	_, err := b.Put(t.Context(), "big", backendtest.RandomReader(1, 3<<20), backends.Object{Size: 3 << 20})
	if err == nil || !strings.Contains(err.Error(), "session expired") || IsPermanent(err) {
		t.Fatalf("Put into an expired session: %v; want a transient session-expired error", err)
	}
	backendtest.AssertNotFound(t, b, "big")
	srv.ExpireSessions(0)
	if _, err := b.Put(t.Context(), "big", backendtest.RandomReader(1, 3<<20), backends.Object{Size: 3 << 20}); err != nil {
		t.Fatalf("Put after sessions recovered: %v", err)
	}
}

func TestServerSideCopy(t *testing.T) {
	srv := newFake(t)
	src := mustNew(t, testOptions(srv, newFolder(srv)))
	dst := mustNew(t, testOptions(srv, newFolder(srv)))
	if !dst.CanCopyFrom(src) {
		t.Fatal("CanCopyFrom a backend on the same Drive and credentials = false")
	}
	other := newFake(t)
	if dst.CanCopyFrom(mustNew(t, testOptions(other, "root"))) {
		t.Errorf("CanCopyFrom another endpoint = true")
	}
	mt := time.Date(2019, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	data := backendtest.RandomBytes(3, 500000)
	sobj, err := src.Put(t.Context(), "p/a.bin", bytes.NewReader(data), backends.Object{Size: int64(len(data)), ModTime: mt})
	if err != nil {
		t.Fatal(err)
	}
	backendtest.PutBytes(t, dst, "q/a.bin", []byte("old"))
	qDir := srv.Find(dst.FolderID(), "q")[0].ID
	srv.ResetStats()
	got, err := dst.CopyFrom(t.Context(), src, "p/a.bin", "q/a.bin", sobj)
	if err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Uploaded != 0 || st.Downloaded != 0 || st.ByKind["copy"] != 1 {
		t.Errorf("copy moved bytes through syncer: %+v", st)
	}
	if got.Size != int64(len(data)) || !got.ModTime.Equal(mt) || got.Hash(backends.MD5) == "" {
		t.Errorf("copy = %+v", got)
	}
	if b := backendtest.ReadAll(t, dst, "q/a.bin"); !bytes.Equal(b, data) {
		t.Errorf("copied content differs")
	}
	if fs := srv.Find(qDir, "a.bin"); len(fs) != 1 {
		t.Errorf("after replacing: %d live files named a.bin; want 1", len(fs))
	}
	// A Doc is exported and uploaded.
	srv.Add(drivetest.FileSpec{Name: "Doc", Parent: src.FolderID(), MimeType: drivetest.DocumentMime, Content: []byte("d")})
	if _, err := dst.CopyFrom(t.Context(), src, "Doc.docx", "Doc.docx", backends.Object{Size: -1}); err != nil {
		t.Fatal(err)
	}
	if b := backendtest.ReadAll(t, dst, "Doc.docx"); !bytes.Equal(b, drivetest.ExportBytes(docxMime, []byte("d"))) {
		t.Errorf("copied Doc = %q", b)
	}
	if _, err := dst.CopyFrom(t.Context(), src, "missing", "x", backends.Object{Size: 1}); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("copy of a missing key: %v", err)
	}
	// A copy Drive reports with another md5 than its source's is removed,
	// and the copy fails; what was at the key stays.
	srv.AddFault(drivetest.Fault{Count: 1, Match: func(r *http.Request, kind string) bool { return kind == "copy" },
		Rewrite: func(body map[string]any) { body["md5Checksum"] = "00000000000000000000000000000000" }})
	before := srv.Count()
	_, err = dst.CopyFrom(t.Context(), src, "p/a.bin", "q/a.bin", sobj)
	if err == nil || !strings.Contains(err.Error(), `copy verification failed: Drive reports the copy as 500000 bytes, md5 "00000000000000000000000000000000"; the source is 500000 bytes, md5 "`) {
		t.Fatalf("copy with a wrong md5 reported = %v", err)
	}
	if srv.Count() != before {
		t.Errorf("the failed copy left %d more items in Drive", srv.Count()-before)
	}
	if b := backendtest.ReadAll(t, dst, "q/a.bin"); !bytes.Equal(b, data) {
		t.Errorf("q/a.bin changed after a failed copy")
	}
}

func TestFolderCacheBounded(t *testing.T) {
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	opts.FolderCacheSize = 4
	b := mustNew(t, opts)
	for i := range 12 {
		backendtest.PutBytes(t, b, fmt.Sprintf("d%d/e/f", i), []byte{byte(i)})
	}
	if n := b.folders.len(); n > 4 {
		t.Errorf("folder cache holds %d entries; bound 4", n)
	}
	if got := keysOf(t, b, ""); len(got) != 12 {
		t.Errorf("listed %d keys", len(got))
	}
	for i := range 12 {
		if got := backendtest.ReadAll(t, b, fmt.Sprintf("d%d/e/f", i)); len(got) != 1 || got[0] != byte(i) {
			t.Errorf("d%d/e/f = %v", i, got)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{
		{Name: "x"},
		{Name: "x", FolderID: "a'b", Endpoint: "http://127.0.0.1:1"},
		{Name: "x", FolderID: "root", Endpoint: "ftp://x"},
		{Name: "x", FolderID: "root", Endpoint: "http://127.0.0.1:1", ChunkSize: 1000},
		{Name: "x", FolderID: "root", Endpoint: "http://127.0.0.1:1", DeleteMode: "shred"},
		{Name: "x", FolderID: "root", Endpoint: "http://127.0.0.1:1", ExportFormats: map[string]string{"form": "pdf"}},
		{Name: "x", FolderID: "root", CredentialsFile: "/nonexistent/sa.json"},
	} {
		if _, err := New(t.Context(), o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

// TestListWalkBounded: the walk holds at most depth × fan-out folders
// pending, however many files there are.
func TestListWalkBounded(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	const depth, fanout = 4, 3
	n := 0
	var mk func(parent string, level int)
	mk = func(parent string, level int) {
		srv.Add(drivetest.FileSpec{Name: fmt.Sprintf("f%d", level), Parent: parent, Content: []byte("x")})
		n++
		if level == depth {
			return
		}
		for i := range fanout {
			mk(srv.Mkdir(parent, fmt.Sprintf("d%d", i)), level+1)
		}
	}
	mk(root, 0)
	b := mustNew(t, testOptions(srv, root))
	if got := keysOf(t, b, ""); len(got) != n {
		t.Fatalf("listed %d of %d files", len(got), n)
	}
	if m := b.maxPending.Load(); m > depth*fanout {
		t.Errorf("walk held %d folders pending; bound %d", m, depth*fanout)
	}
}

// TestDuplicatesWithoutOrder: when Drive ignores orderBy, twins arrive far
// apart (past the exact set, into the Bloom filter); the listing still
// never yields a key twice.
func TestDuplicatesWithoutOrder(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	const n, twins = 5000, 20
	for i := range n {
		srv.Add(drivetest.FileSpec{Name: fmt.Sprintf("f%05d", i), Parent: root})
	}
	for i := range twins {
		srv.Add(drivetest.FileSpec{Name: fmt.Sprintf("f%05d", i*250), Parent: root})
		srv.Add(drivetest.FileSpec{Name: fmt.Sprintf("dir%d", i%2), Parent: root, MimeType: drivetest.FolderMime})
	}
	srv.SetIgnoreOrder(true)
	logs := &logBuffer{}
	opts := testOptions(srv, root)
	opts.Logger = newLogger(logs)
	b := mustNew(t, opts)
	objs := backendtest.ListAll(t, b, "") // fails on a repeated key
	if len(objs) != n+twins {
		t.Errorf("listed %d keys; want %d", len(objs), n+twins)
	}
	dups := 0
	for k := range objs {
		if strings.Contains(k, " (dup ") {
			dups++
		}
	}
	// Notes: one per file twin, and one per folder beyond the first of
	// each of the two folder names.
	if notes := logs.Count("listed apart from its twin"); dups != twins || notes != twins+twins-2 {
		t.Errorf("%d dup keys, %d log notes; want %d and %d", dups, notes, twins, 2*twins-2)
	}
}

// TestLostCreateAnswers drops the answer to a folder create, a small file's
// create and a copy after Drive made them; the transport sends each again.
// Every item exists once: the repeat carries the same generated id, which
// Drive refuses, and the backend finds the item by it.
func TestLostCreateAnswers(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	b := mustNew(t, testOptions(srv, root))
	lose := func(kind string) {
		srv.AddFault(drivetest.Fault{DropResponse: true, Count: 1, Match: func(r *http.Request, k string) bool { return k == kind }})
	}
	lose("create")           // the folder "dir"
	lose("upload-multipart") // the file
	data := []byte("small file, one request")
	if _, err := b.Put(t.Context(), "dir/a.txt", bytes.NewReader(data), backends.Object{Size: int64(len(data))}); err != nil {
		t.Fatalf("Put with lost answers: %v", err)
	}
	dirs := srv.Find(root, "dir")
	if len(dirs) != 1 {
		t.Fatalf("%d folders named dir; want 1", len(dirs))
	}
	if fs := srv.Find(dirs[0].ID, "a.txt"); len(fs) != 1 {
		t.Errorf("%d files named a.txt; want 1", len(fs))
	}
	if got := backendtest.ReadAll(t, b, "dir/a.txt"); !bytes.Equal(got, data) {
		t.Errorf("content = %q", got)
	}

	lose("copy")
	if _, err := b.CopyFrom(t.Context(), b, "dir/a.txt", "dir/b.txt", backends.Object{Size: int64(len(data))}); err != nil {
		t.Fatalf("CopyFrom with a lost answer: %v", err)
	}
	if fs := srv.Find(dirs[0].ID, "b.txt"); len(fs) != 1 {
		t.Errorf("%d files named b.txt; want 1", len(fs))
	}
	if st := srv.Stats(); st.Faults != 3 || st.ByKind["generate-ids"] != 1 {
		t.Errorf("faults injected %d, generateIds calls %d; want 3 and 1 (ids are fetched %d at a time)", st.Faults, st.ByKind["generate-ids"], idBatch)
	}
}

// TestGeneratedIDRefused: a Drive that answers 400 to a generated id gets
// the create again without one, and no ids from then on.
func TestGeneratedIDRefused(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	opts := testOptions(srv, root)
	var logs logBuffer
	opts.Logger = newLogger(&logs)
	b := mustNew(t, opts)
	srv.AddFault(drivetest.Fault{Status: 400, Reason: "invalid", Count: 1, Match: func(r *http.Request, k string) bool { return k == "upload-multipart" }})
	backendtest.PutBytes(t, b, "a.txt", []byte("a"))
	backendtest.PutBytes(t, b, "b.txt", []byte("b"))
	if n := logs.Count("refused a generated file id"); n != 1 {
		t.Errorf("%d warnings about refused ids; want 1\n%s", n, logs.String())
	}
	if st := srv.Stats(); st.ByKind["upload-multipart"] != 3 || st.ByKind["generate-ids"] != 1 {
		t.Errorf("multipart creates %d, generateIds %d; want 3 (one refused) and 1", st.ByKind["upload-multipart"], st.ByKind["generate-ids"])
	}
	for _, k := range []string{"a.txt", "b.txt"} {
		if fs := srv.Find(root, k); len(fs) != 1 {
			t.Errorf("%d files named %s; want 1", len(fs), k)
		}
	}
}

// TestRangedReadsLookUpOnce: the parts of an upload elsewhere read a file
// as ranges; only the first range (from offset 0) looks the key up, and a
// new run of ranges sees a file that replaced it.
func TestRangedReadsLookUpOnce(t *testing.T) {
	srv := newFake(t)
	opts := testOptions(srv, newFolder(srv))
	opts.DeleteMode = DeletePermanent
	b := mustNew(t, opts)
	data := backendtest.RandomBytes(8, 1<<20+5)
	backendtest.PutBytes(t, b, "d/big.bin", data)
	readRange := func(off, n int64) []byte {
		t.Helper()
		rc, err := b.Open(t.Context(), "d/big.bin", off, n)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	srv.ResetStats()
	const part = 300_000
	var got []byte
	for off := int64(0); off < int64(len(data)); off += part {
		got = append(got, readRange(off, part)...)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("ranges read %d bytes; content differs", len(got))
	}
	if n := srv.Stats().ByKind["list"]; n != 1 {
		t.Errorf("%d lookups (files.list) for 4 ranges; want 1", n)
	}

	// Replaced by a new file (delete, then create): the next run of
	// ranges starts from offset 0 and reads the new one.
	if err := b.Delete(t.Context(), "d/big.bin"); err != nil {
		t.Fatal(err)
	}
	data2 := backendtest.RandomBytes(9, len(data))
	backendtest.PutBytes(t, b, "d/big.bin", data2)
	if got := append(readRange(0, part), readRange(part, -1)...); !bytes.Equal(got, data2) {
		t.Errorf("after replacing the file, ranges read the old content")
	}
	// Deleted (for good) between two ranges: the remembered file answers
	// 404, and the key is looked up again.
	if err := b.Delete(t.Context(), "d/big.bin"); err != nil {
		t.Fatal(err)
	}
	backendtest.PutBytes(t, b, "d/big.bin", data)
	if got := readRange(part, part); !bytes.Equal(got, data[part:2*part]) {
		t.Errorf("a range after the file was deleted and made again read other bytes")
	}
}

// TestBadRequestKeepsIDs: a create refused with 400 with and without its
// id failed for another reason; ids stay on, and a later lost answer still
// makes no duplicate.
func TestBadRequestKeepsIDs(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	b := mustNew(t, testOptions(srv, root))
	multipart := func(r *http.Request, k string) bool { return k == "upload-multipart" }
	srv.AddFault(drivetest.Fault{Status: 400, Reason: "badRequest", Count: 2, Match: multipart})
	if _, err := b.Put(t.Context(), "bad.txt", bytes.NewReader([]byte("x")), backends.Object{Size: 1}); err == nil {
		t.Fatal("Put refused twice with 400: no error")
	}
	srv.AddFault(drivetest.Fault{DropResponse: true, Count: 1, Match: multipart})
	backendtest.PutBytes(t, b, "good.txt", []byte("y"))
	if fs := srv.Find(root, "good.txt"); len(fs) != 1 {
		t.Errorf("%d files named good.txt after a lost answer; want 1 (ids still on)", len(fs))
	}
	if fs := srv.Find(root, "bad.txt"); len(fs) != 0 {
		t.Errorf("the refused file exists")
	}
}

// Put takes the file's mimeType from the source's Content-Type and its
// modifiedTime from the source's time (S3's x-amz-meta-mtime, which apply
// puts in src.ModTime); a Google type is never taken.
func TestPutMimeTypeFromSource(t *testing.T) {
	srv := newFake(t)
	folder := newFolder(srv)
	b := mustNew(t, testOptions(srv, folder))
	mt := time.Date(2015, 6, 1, 12, 0, 0, 500_000_000, time.UTC)
	for name, c := range map[string]struct{ ctype, want string }{
		"page.bin":  {"text/html; charset=utf-8", "text/html"}, // Drive keeps no parameters
		"doc.txt":   {drivetest.DocumentMime, "text/plain"},
		"plain.bin": {"", "application/octet-stream"},
	} {
		src := backends.Object{Size: 3, ModTime: mt, Meta: &backends.Metadata{ContentType: c.ctype}}
		if _, err := b.Put(t.Context(), name, strings.NewReader("abc"), src); err != nil {
			t.Fatal(err)
		}
		got := srv.Find(folder, name)
		if len(got) != 1 {
			t.Fatalf("%s: %d files", name, len(got))
		}
		if got[0].MimeType != c.want || !got[0].Modified.Equal(mt) {
			t.Errorf("%s: mimeType %q, modifiedTime %v; want %q, %v", name, got[0].MimeType, got[0].Modified, c.want, mt)
		}
	}
}

// A read tells the destination what the file is: its mimeType as the
// Content-Type (the export's for a Google Doc) and its modifiedTime.
func TestOpenCarriesContentType(t *testing.T) {
	srv := newFake(t)
	root := newFolder(srv)
	mod := time.Date(2024, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	srv.Add(drivetest.FileSpec{Name: "photo.jpg", Parent: root, MimeType: "image/jpeg", Content: []byte("jpeg bytes"), Modified: mod})
	srv.Add(drivetest.FileSpec{Name: "Report", Parent: root, MimeType: drivetest.DocumentMime, Content: []byte("report"), Modified: mod})
	b := mustNew(t, testOptions(srv, root))
	for key, want := range map[string]string{"photo.jpg": "image/jpeg", "Report.docx": docxMime} {
		rc, err := b.Open(t.Context(), key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		m := backends.MetaOf(rc)
		rc.Close()
		if m == nil || m.ContentType != want || !m.ModTime.Equal(mod) {
			t.Errorf("%s: metadata %+v; want Content-Type %q and modified %v", key, m, want, mod)
		}
		// The same without reading, for uploads in parts.
		if m, err := b.StatMeta(t.Context(), key, ""); err != nil || m.ContentType != want || !m.ModTime.Equal(mod) {
			t.Errorf("%s: StatMeta %+v, %v; want Content-Type %q and modified %v", key, m, err, want, mod)
		}
	}
}
