package e2e

// End-to-end tests of the Google Drive backend (issue 4) on the built
// binary: a fake Drive in the test process, the real S3 server, local
// folders.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncer/backends/gdrive/drivetest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// driveT0 is the modification time the Drive trees start from: in the
// past, with milliseconds (Drive's precision).
var driveT0 = time.Date(2025, 3, 4, 5, 6, 7, 891_000_000, time.UTC)

// driveTree is a folder of the fake Drive holding every kind of item the
// backend documents a rule for, and what a sync of it must yield.
type driveTree struct {
	Folder string               // the folder_id
	Want   want                 // key -> bytes, as the backend documents the keys
	Mod    map[string]time.Time // key -> the Drive file's modifiedTime
	// The Google Doc the tests edit.
	DocID, DocKey string
	ReadmeID      string // the binary file "readme.txt"
}

// newDriveTree fills a new folder of srv named name:
//
//   - binary files in nested folders, a zero-byte file, awkward names;
//   - a Google Doc, Sheet, Slides and Drawing: keys get the export
//     extension, content is the export (docx, xlsx, pptx, svg by default);
//   - duplicate names: two binary files, two Docs, two folders, and a Doc
//     whose exported key is a binary file's name: the oldest binary (then
//     the oldest Doc) keeps the key, the others are "<stem> (dup <id>)<ext>";
//   - a name with "/": the key has "∕" (U+2215) instead;
//   - shortcuts (to a file, and to a folder above it: a loop): skipped;
//   - a trashed file and a trashed folder with a file: absent;
//   - a Google Form (no export): skipped.
func newDriveTree(t *testing.T, srv *drivetest.Server, name string) driveTree {
	t.Helper()
	tr := driveTree{Folder: srv.Mkdir("", name), Want: want{}, Mod: map[string]time.Time{}}
	root := tr.Folder
	at := func(h int) time.Time { return driveT0.Add(time.Duration(h) * time.Hour) }
	file := func(parent, fname, key string, content []byte, h int) string {
		id := srv.Add(drivetest.FileSpec{Name: fname, Parent: parent, Content: content, Created: at(h), Modified: at(h)})
		if key != "" {
			tr.Want[key], tr.Mod[key] = content, at(h)
		}
		return id
	}
	doc := func(parent, fname, mime, ext, key string, content []byte, h int) string {
		id := srv.Add(drivetest.FileSpec{Name: fname, Parent: parent, MimeType: mime, Content: content, Created: at(h), Modified: at(h)})
		if key != "" {
			tr.Want[key], tr.Mod[key] = exportOf(ext, content), at(h)
		}
		return id
	}
	dupKey := func(stem, id, ext string) string { return stem + " (dup " + id + ")" + ext }

	readme := file(root, "readme.txt", "readme.txt", driveSeeded(name+"/readme", 1000), 1)
	tr.ReadmeID = readme
	file(root, "empty.bin", "empty.bin", []byte{}, 1)
	file(root, "%2F not a slash + plus & amp.txt", "%2F not a slash + plus & amp.txt", driveSeeded(name+"/pct", 77), 1)
	file(root, "Q1/Q2 summary.txt", "Q1∕Q2 summary.txt", driveSeeded(name+"/slash", 321), 2)

	// Google files, exported.
	tr.DocKey = "Report.docx"
	tr.DocID = doc(root, "Report", drivetest.DocumentMime, "docx", tr.DocKey, []byte("Quarterly report, draft 1\n"), 3)
	doc(root, "Budget 2026", drivetest.SpreadsheetMime, "xlsx", "Budget 2026.xlsx", []byte("a,b\n1,2\n"), 3)
	doc(root, "Roadmap", drivetest.PresentationMime, "pptx", "Roadmap.pptx", []byte("slide 1\n"), 3)
	doc(root, "Architecture", drivetest.DrawingMime, "svg", "Architecture.svg", []byte("<svg/>"), 3)
	srv.Add(drivetest.FileSpec{Name: "Survey", Parent: root, MimeType: "application/vnd.google-apps.form", Created: at(3), Modified: at(3)})

	// Nested folders.
	photos := srv.Add(drivetest.FileSpec{Name: "photos", Parent: root, MimeType: drivetest.FolderMime, Created: at(0)})
	y2025 := srv.Add(drivetest.FileSpec{Name: "2025", Parent: photos, MimeType: drivetest.FolderMime, Created: at(0)})
	file(photos, "cover.png", "photos/cover.png", driveSeeded(name+"/cover", 5000), 4)
	file(y2025, "beach.jpg", "photos/2025/beach.jpg", driveSeeded(name+"/beach", 200<<10), 4)
	d := root
	for _, n := range []string{"a", "b", "c", "d"} {
		d = srv.Add(drivetest.FileSpec{Name: n, Parent: d, MimeType: drivetest.FolderMime, Created: at(0)})
	}
	file(d, "deep.txt", "a/b/c/d/deep.txt", driveSeeded(name+"/deep", 10), 4)
	slashDir := srv.Add(drivetest.FileSpec{Name: "2024/25 season", Parent: root, MimeType: drivetest.FolderMime, Created: at(0)})
	file(slashDir, "fixtures.csv", "2024∕25 season/fixtures.csv", driveSeeded(name+"/fixtures", 600), 4)
	uni := srv.Add(drivetest.FileSpec{Name: "café ünïcödé", Parent: root, MimeType: drivetest.FolderMime, Created: at(0)})
	file(uni, "日本語のファイル.txt", "café ünïcödé/日本語のファイル.txt", driveSeeded(name+"/jp", 2000), 4)

	// Duplicates: two binaries, the older keeps the key.
	file(root, "minutes.txt", "minutes.txt", driveSeeded(name+"/minutes-1", 400), 5)
	m2 := file(root, "minutes.txt", "", driveSeeded(name+"/minutes-2", 401), 6)
	tr.Want[dupKey("minutes", m2, ".txt")], tr.Mod[dupKey("minutes", m2, ".txt")] = driveSeeded(name+"/minutes-2", 401), at(6)
	// Two Docs with one name.
	doc(root, "Memo", drivetest.DocumentMime, "docx", "Memo.docx", []byte("memo one\n"), 5)
	memo2 := doc(root, "Memo", drivetest.DocumentMime, "docx", "", []byte("memo two\n"), 6)
	tr.Want[dupKey("Memo", memo2, ".docx")], tr.Mod[dupKey("Memo", memo2, ".docx")] = exportOf("docx", []byte("memo two\n")), at(6)
	// A Doc whose exported key is a binary file's name: the binary wins,
	// though it is younger.
	planDoc := doc(root, "Plan", drivetest.DocumentMime, "docx", "", []byte("the plan, as a Doc\n"), 5)
	tr.Want[dupKey("Plan", planDoc, ".docx")], tr.Mod[dupKey("Plan", planDoc, ".docx")] = exportOf("docx", []byte("the plan, as a Doc\n")), at(5)
	file(root, "Plan.docx", "Plan.docx", driveSeeded(name+"/plan-docx", 3000), 6)
	// Two folders with one name: their contents never merge.
	sh1 := srv.Add(drivetest.FileSpec{Name: "shared", Parent: root, MimeType: drivetest.FolderMime, Created: at(5)})
	sh2 := srv.Add(drivetest.FileSpec{Name: "shared", Parent: root, MimeType: drivetest.FolderMime, Created: at(6)})
	file(sh1, "notes.txt", "shared/notes.txt", driveSeeded(name+"/shared-1", 500), 5)
	file(sh2, "notes.txt", "shared (dup "+sh2+")/notes.txt", driveSeeded(name+"/shared-2", 501), 6)
	if len(tr.Mod) != len(tr.Want) {
		t.Fatalf("newDriveTree: %d keys with a time, %d keys", len(tr.Mod), len(tr.Want))
	}

	// Shortcuts: skipped, never followed (the second one is a loop).
	srv.Add(drivetest.FileSpec{Name: "readme shortcut", Parent: root, MimeType: drivetest.ShortcutMime, ShortcutTarget: readme, Created: at(7)})
	srv.Add(drivetest.FileSpec{Name: "back to photos", Parent: y2025, MimeType: drivetest.ShortcutMime, ShortcutTarget: photos, Created: at(7)})

	// Trash: absent, with everything under a trashed folder.
	file(root, "old draft.txt", "", driveSeeded(name+"/trashed", 100), 7)
	srv.Trash(srv.Find(root, "old draft.txt")[0].ID)
	srv.Add(drivetest.FileSpec{Name: "deleted later.txt", Parent: root, Content: []byte("gone"), Trashed: true, Created: at(7)})
	archive := srv.Add(drivetest.FileSpec{Name: "archive", Parent: root, MimeType: drivetest.FolderMime, Created: at(7)})
	file(archive, "inside trashed folder.txt", "", driveSeeded(name+"/in-trash", 100), 7)
	srv.Trash(archive)
	return tr
}

// TestGDriveToS3 syncs a Drive tree with nested folders, Google Docs,
// duplicate names, shortcuts and trashed items to a real S3 bucket: the
// bucket must hold exactly the documented keys, byte for byte (read back
// with rclone); a re-plan has no changes; a Doc edited on Drive shows as an
// update of its exported key, and apply brings the new export over.
func TestGDriveToS3(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	srv := newFakeDrive(t)
	l := newLayout(t)
	tr := newDriveTree(t, srv, "Team Folder")
	bucket := newS3Bucket(t, env.A, "gdrive")
	ra := remote{"A", env.A}
	writeHCL(t, l.Config, l.State, nil,
		gdriveBlock{Name: "team", Srv: srv, Folder: tr.Folder}.hcl(),
		s3Block{Name: "archive", Srv: env.A, Bucket: bucket}.hcl(env),
		syncBlock("drive", "backend.gdrive.team", "backend.s3.archive", `delete = "managed"`))

	res := runDrive(t, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if res.Code != 2 {
		t.Fatalf("first plan: want exit 2 (changes)\n%s", res)
	}
	if got := len(planLines(res.Stdout)["+"]); got != len(tr.Want) {
		t.Errorf("first plan: %d keys to create; want %d\n%s", got, len(tr.Want), res.Stdout)
	}

	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply Drive -> S3: want exit 0\n%s", res)
	}
	sum, line := parseApplyComplete(t, res)
	t.Logf("apply Drive -> S3: %s", line)
	if sum.Created != len(tr.Want) || sum.Updated != 0 || sum.Deleted != 0 {
		t.Errorf("apply: %s; want %d created", line, len(tr.Want))
	}
	if n := strings.Count(res.Stderr, driveShortcutLine); n != 2 {
		t.Errorf("stderr notes %d skipped shortcuts; want 2 (%q)\n%s", n, driveShortcutLine, res)
	}
	for _, s := range []string{"readme shortcut", "back to photos"} {
		if !strings.Contains(res.Stderr, s) {
			t.Errorf("stderr does not name the skipped shortcut %q\n%s", s, res)
		}
	}
	if !strings.Contains(res.Stderr, "Survey") {
		t.Errorf("stderr does not note the skipped Google Form \"Survey\"\n%s", res)
	}
	assertBucketHolds(t, ra, bucket, tr.Want)
	assertBucketTimes(t, ra, bucket, tr.Mod)
	t.Logf("bucket keys: %q", tr.Want.keys())
	// A Doc's copy is served as what it was exported to, from Drive's
	// answer, not guessed from its key.
	if c, err := env.A.Client(); err != nil {
		t.Fatal(err)
	} else if out, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tr.DocKey)}); err != nil {
		t.Errorf("HeadObject %s: %v", tr.DocKey, err)
	} else if ct := aws.ToString(out.ContentType); ct != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" {
		t.Errorf("%s has Content-Type %q; want the docx export's", tr.DocKey, ct)
	}
	if got := recordedKeys(t, l.State, "drive"); len(got) != len(tr.Want) {
		t.Errorf("state records %d keys; want %d", len(got), len(tr.Want))
	}
	wantNoChanges(t, l.Base, l.Config, "after apply Drive -> S3")

	// Edit the Doc in Drive: a new modifiedTime and content.
	edited := []byte("Quarterly report, final version, much longer than the draft\n")
	srv.Update(tr.DocID, edited, driveT0.Add(48*time.Hour))
	tr.Want[tr.DocKey], tr.Mod[tr.DocKey] = exportOf("docx", edited), driveT0.Add(48*time.Hour)
	res = runDrive(t, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	lines := planLines(res.Stdout)
	t.Logf("plan after editing the Doc in Drive:\n%s", res.Stdout)
	if res.Code != 2 || len(lines["~"]) != 1 || !strings.HasPrefix(lines["~"][0], tr.DocKey+" ") || len(lines["+"])+len(lines["-"]) != 0 {
		t.Errorf("plan after editing the Doc: want exit 2 and exactly `~ %s ...`; got ~%q +%q -%q\n%s", tr.DocKey, lines["~"], lines["+"], lines["-"], res)
	}
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply after editing the Doc: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != 0 || sum.Updated != 1 || sum.Deleted != 0 {
		t.Errorf("apply after editing the Doc: %s; want 1 updated", line)
	}
	assertBucketHolds(t, ra, bucket, tr.Want)
	assertBucketTimes(t, ra, bucket, tr.Mod)
	wantNoChanges(t, l.Base, l.Config, "after the Doc's update")

	// Trash a file in Drive: with delete = "managed" its copy goes.
	srv.Trash(tr.ReadmeID)
	delete(tr.Want, "readme.txt")
	res = runDrive(t, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if lines := planLines(res.Stdout); res.Code != 2 || len(lines["-"]) != 1 || lines["-"][0] != "readme.txt" || len(lines["+"])+len(lines["~"]) != 0 {
		t.Errorf("plan after trashing readme.txt in Drive: want exit 2 and exactly `- readme.txt`\n%s", res)
	}
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply after trashing a file: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Deleted != 1 || sum.Created+sum.Updated != 0 {
		t.Errorf("apply after trashing a file: %s; want 1 deleted", line)
	}
	assertBucketHolds(t, ra, bucket, tr.Want)
	wantNoChanges(t, l.Base, l.Config, "after the delete")
}

// TestGDriveLocalRoundTrip syncs the Drive tree to a local folder, then a
// local tree to Drive (small files in one request, larger ones through
// resumable sessions of 1 MiB chunks): both trees come out identical, the
// Drive files carry the local mtimes to the millisecond, re-plans have no
// changes, and a changed local file updates its Drive file in place.
func TestGDriveLocalRoundTrip(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)

	// Drive -> local.
	tr := newDriveTree(t, srv, "Team Folder")
	down := filepath.Join(l.Base, "down.hcl")
	writeHCL(t, down, filepath.Join(l.Base, "down.db"), nil,
		gdriveBlock{Name: "team", Srv: srv, Folder: tr.Folder}.hcl(),
		localBlock("dst", l.Dst),
		syncBlock("down", "backend.gdrive.team", "backend.local.dst"))
	res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", down)
	if res.Code != 0 {
		t.Fatalf("apply Drive -> local: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Created != len(tr.Want) {
		t.Errorf("apply Drive -> local: %s; want %d created", line, len(tr.Want))
	}
	assertDirHolds(t, l.Dst, tr.Want)
	assertDirTimes(t, l.Dst, tr.Mod)
	wantNoChanges(t, l.Base, down, "after apply Drive -> local")
	srv.Update(tr.DocID, []byte("edited for the local copy\n"), driveT0.Add(72*time.Hour))
	tr.Want[tr.DocKey], tr.Mod[tr.DocKey] = exportOf("docx", []byte("edited for the local copy\n")), driveT0.Add(72*time.Hour)
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", down)
	if res.Code != 0 {
		t.Fatalf("apply Drive -> local after editing the Doc: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Updated != 1 || sum.Created+sum.Deleted != 0 {
		t.Errorf("apply Drive -> local after editing the Doc: %s; want 1 updated", line)
	}
	assertDirHolds(t, l.Dst, tr.Want)
	assertDirTimes(t, l.Dst, tr.Mod)
	wantNoChanges(t, l.Base, down, "after the Doc's update")

	// local -> Drive, into a new folder.
	src := l.Src
	files := map[string]int{
		"plain.txt":                    1000,
		"empty.txt":                    0,
		"with space/file name.txt":     300,
		"unicode/café/日本語.txt":         2000,
		"percent/100% done+plus.txt":   64,
		".hidden dir/.also hidden":     72,
		"deep/a/b/c/d/e/leaf.bin":      4096,
		"big/exactly-one-chunk.bin":    1 << 20,       // one chunk: resumable
		"big/three-and-a-bit.bin":      3<<20 + 12345, // 4 chunks
		"big/just-under-a-chunk.bin":   1<<20 - 1,     // one multipart request
		"quotes/it's \"quoted\".txt":   33,
		"back\\slash.txt":              34,
		"many/f1.txt":                  10,
		"many/f2.txt":                  11,
		"many/f3.txt":                  12,
		"many/nested/twice/f4.txt":     13,
		"many/nested/twice/again/f5.x": 14,
	}
	mt := time.Date(2024, 11, 5, 6, 7, 8, 123_456_789, time.UTC)
	i := 0
	for k, n := range files {
		p := filepath.Join(src, filepath.FromSlash(k))
		writeSeeded(t, p, "gdrive-up/"+k, n)
		m := mt.Add(time.Duration(i) * 1_234_567_891) // distinct, sub-millisecond parts
		if err := os.Chtimes(p, m, m); err != nil {
			t.Fatal(err)
		}
		i++
	}
	upFolder := srv.Mkdir("", "Uploads")
	up := filepath.Join(l.Base, "up.hcl")
	writeHCL(t, up, filepath.Join(l.Base, "up.db"), nil,
		localBlock("src", src),
		gdriveBlock{Name: "uploads", Srv: srv, Folder: upFolder, ChunkSize: "1MiB"}.hcl(),
		syncBlock("up", "backend.local.src", "backend.gdrive.uploads", `delete = "managed"`))
	srv.ResetStats()
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", up)
	if res.Code != 0 {
		t.Fatalf("apply local -> Drive: want exit 0\n%s", res)
	}
	st := srv.Stats()
	t.Logf("apply local -> Drive: %d requests, %v; largest chunk %d bytes", st.Requests, st.ByKind, st.MaxChunk)
	if sum, line := parseApplyComplete(t, res); sum.Created != len(files) {
		t.Errorf("apply local -> Drive: %s; want %d created", line, len(files))
	}
	if st.ByKind["upload-init"] == 0 || st.ByKind["upload-multipart"] == 0 {
		t.Errorf("want both resumable sessions and multipart uploads; requests %v", st.ByKind)
	}
	if st.MaxChunk > 1<<20 {
		t.Errorf("largest resumable chunk %d bytes; chunk_size is 1 MiB", st.MaxChunk)
	}
	before := assertDriveMatchesDir(t, srv, upFolder, src)
	wantNoChanges(t, l.Base, up, "after apply local -> Drive")

	// Change one local file: updated in place (the same file id).
	const changed = "big/three-and-a-bit.bin"
	p := filepath.Join(src, filepath.FromSlash(changed))
	writeSeeded(t, p, "gdrive-up/changed", 2<<20+7)
	m := mt.Add(time.Hour + 987_654_321)
	if err := os.Chtimes(p, m, m); err != nil {
		t.Fatal(err)
	}
	res = runDrive(t, l.Base, "plan", "-detailed-exitcode", "-config", up)
	if lines := planLines(res.Stdout); res.Code != 2 || len(lines["~"]) != 1 || !strings.HasPrefix(lines["~"][0], changed+" ") || len(lines["+"])+len(lines["-"]) != 0 {
		t.Errorf("plan after changing %s: want exit 2 and exactly one `~ %s`\n%s", changed, changed, res)
	}
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", up)
	if res.Code != 0 {
		t.Fatalf("apply local -> Drive after a change: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Updated != 1 || sum.Created+sum.Deleted != 0 {
		t.Errorf("apply local -> Drive after a change: %s; want 1 updated", line)
	}
	after := assertDriveMatchesDir(t, srv, upFolder, src)
	if a, b := after[changed], before[changed]; a.ID != b.ID || a.HeadRevision == b.HeadRevision {
		t.Errorf("%s: file id %s -> %s, revision %s -> %s; want the same id with a new revision (files.update in place)", changed, b.ID, a.ID, b.HeadRevision, a.HeadRevision)
	}
	wantNoChanges(t, l.Base, up, "after the update local -> Drive")

	// Remove a local file: with delete = "managed" and the default
	// delete_mode "trash", its Drive file goes to the trash, not away.
	const removed = "many/f2.txt"
	if err := os.Remove(filepath.Join(src, filepath.FromSlash(removed))); err != nil {
		t.Fatal(err)
	}
	delete(files, removed)
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", up)
	if res.Code != 0 {
		t.Fatalf("apply local -> Drive after removing a file: want exit 0\n%s", res)
	}
	if sum, line := parseApplyComplete(t, res); sum.Deleted != 1 || sum.Created+sum.Updated != 0 {
		t.Errorf("apply local -> Drive after removing a file: %s; want 1 deleted", line)
	}
	if fi, ok := srv.Get(before[removed].ID); !ok || !fi.Trashed {
		t.Errorf("%s: Drive file %s after a managed delete: present %v, trashed %v; want it in the trash", removed, before[removed].ID, ok, fi.Trashed)
	}
	assertDriveMatchesDir(t, srv, upFolder, src)
	wantNoChanges(t, l.Base, up, "after the delete local -> Drive")

	// The Drive copy synced back down equals the local tree.
	back := filepath.Join(l.Base, "back")
	backCfg := filepath.Join(l.Base, "back.hcl")
	writeHCL(t, backCfg, filepath.Join(l.Base, "back.db"), nil,
		gdriveBlock{Name: "uploads", Srv: srv, Folder: upFolder}.hcl(),
		localBlock("back", back),
		syncBlock("back", "backend.gdrive.uploads", "backend.local.back"))
	if err := os.MkdirAll(back, 0o755); err != nil {
		t.Fatal(err)
	}
	res = runDrive(t, l.Base, "apply", "-auto-approve", "-config", backCfg)
	if res.Code != 0 {
		t.Fatalf("apply Drive -> local of the uploads: want exit 0\n%s", res)
	}
	if n := assertTreesEqual(t, src, back); n != len(files) {
		t.Errorf("compared %d files; want %d", n, len(files))
	}
	for k := range files {
		a, err1 := os.Stat(filepath.Join(src, filepath.FromSlash(k)))
		b, err2 := os.Stat(filepath.Join(back, filepath.FromSlash(k)))
		if err1 != nil || err2 != nil {
			continue
		}
		if want := a.ModTime().Truncate(time.Millisecond); !b.ModTime().Equal(want) {
			t.Errorf("%s: mtime after local -> Drive -> local is %s; want %s", k, b.ModTime().Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
}

// TestGDriveExampleValidates checks that examples/gdrive-to-s3.hcl is a
// valid configuration with its environment set, and that without it
// validate names the missing variable.
func TestGDriveExampleValidates(t *testing.T) {
	noteSourceInputs.Do(statModuleSources)
	example := filepath.Join(moduleRoot, "examples", "gdrive-to-s3.hcl")
	if _, err := os.Stat(example); err != nil {
		t.Fatalf("the example is missing: %v", err)
	}
	dir := t.TempDir()
	vars := []string{
		"GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(dir, "service-account.json"),
		"ARCHIVE_AWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE00",
		"ARCHIVE_AWS_SECRET_ACCESS_KEY=example/secret/key/not/real/0000000000",
	}
	res := runSyncer(t, dir, syncerEnv(vars...), "validate", "-config", example)
	if res.Code != 0 || !strings.Contains(res.Stdout, "Success!") {
		t.Fatalf("validate %s with its environment set: want exit 0 and Success!\n%s", example, res)
	}
	t.Logf("validate: %s", strings.TrimSpace(res.Stdout))
	for i, v := range vars {
		name, _, _ := strings.Cut(v, "=")
		rest := append(append([]string(nil), vars[:i]...), vars[i+1:]...)
		res := runSyncer(t, dir, syncerEnv(rest...), "validate", "-config", example)
		if res.Code != 1 || !strings.Contains(res.Stderr, name) {
			t.Errorf("validate without %s: want exit 1 and an error naming it\n%s", name, res)
		}
		for _, kv := range rest {
			_, secret, _ := strings.Cut(kv, "=")
			if strings.Contains(secret, "secret") && (strings.Contains(res.Stdout, secret) || strings.Contains(res.Stderr, secret)) {
				t.Errorf("validate printed the secret %s", secret)
			}
		}
	}
}

// TestGDriveEndpointWithAPIPath gives syncer the fake's Endpoint() — the
// API base URL as the Go client takes it (option.WithEndpoint), ending in
// /drive/v3/, which is also the form of Google's documented base URL
// https://www.googleapis.com/drive/v3/. syncer must either use it (plan
// lists the file) or refuse it in validate with a diagnostic on endpoint;
// it must not accept it and then report the folder "not found ... not
// shared with these credentials" because it requested /drive/v3/drive/v3/.
func TestGDriveEndpointWithAPIPath(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)
	folder := srv.Mkdir("", "F")
	srv.Add(drivetest.FileSpec{Name: "a.txt", Parent: folder, Content: []byte("hello")})
	block := gdriveBlock{Name: "team", Srv: srv, Folder: folder}.hcl()
	block = strings.Replace(block, hclString(srv.URL), hclString(srv.Endpoint()), 1)
	writeHCL(t, l.Config, l.State, nil, block, localBlock("dst", l.Dst),
		syncBlock("drive", "backend.gdrive.team", "backend.local.dst"))

	if res := runDrive(t, l.Base, "validate", "-config", l.Config); res.Code != 0 {
		if !strings.Contains(res.Stderr, "endpoint") {
			t.Errorf("validate refuses endpoint = %q without saying why\n%s", srv.Endpoint(), res)
		}
		return // refused up front, with a diagnostic: fine
	}
	res := runDrive(t, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if lines := planLines(res.Stdout); res.Code != 2 || len(lines["+"]) != 1 || !strings.HasPrefix(lines["+"][0], "a.txt ") {
		t.Errorf("endpoint = %q (the fake's Endpoint(), i.e. <base>/drive/v3/) passes validate, so plan must work with it: want exit 2 and `+ a.txt`\n%s", srv.Endpoint(), res)
	}
}

// TestGDriveDocTooLargeToExport: a Google Doc over Drive's export limit
// fails on its own with a clear error (exit 3) while the other files are
// copied; the next plan offers only that Doc again; with
// skip_google_docs = true it is left out and there is nothing to do.
func TestGDriveDocTooLargeToExport(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)
	folder := srv.Mkdir("", "Docs")
	srv.SetExportLimit(64 << 10)
	w := want{}
	for i := range 5 {
		name := fmt.Sprintf("file-%d.bin", i)
		w[name] = driveSeeded("export-limit/"+name, 1000*i)
		srv.Add(drivetest.FileSpec{Name: name, Parent: folder, Content: w[name], Modified: driveT0})
	}
	small := []byte("a small doc\n")
	srv.Add(drivetest.FileSpec{Name: "Small", Parent: folder, MimeType: drivetest.DocumentMime, Content: small, Modified: driveT0})
	w["Small.docx"] = exportOf("docx", small)
	srv.Add(drivetest.FileSpec{Name: "Huge report", Parent: folder, MimeType: drivetest.DocumentMime, Content: driveSeeded("export-limit/huge", 100<<10), Modified: driveT0})

	write := func(extra ...string) {
		writeHCL(t, l.Config, l.State, nil,
			gdriveBlock{Name: "team", Srv: srv, Folder: folder, Extra: extra}.hcl(),
			localBlock("dst", l.Dst),
			syncBlock("docs", "backend.gdrive.team", "backend.local.dst"))
	}
	write()
	res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 3 {
		t.Fatalf("apply with a Doc over the export limit: want exit 3 (some objects failed)\n%s", res)
	}
	if !strings.Contains(res.Stderr, "Huge report.docx") || !strings.Contains(res.Stderr, "too large to export") {
		t.Errorf("stderr does not say that \"Huge report.docx\" is too large to export\n%s", res)
	}
	assertDirHolds(t, l.Dst, w)
	res = runDrive(t, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if lines := planLines(res.Stdout); res.Code != 2 || len(lines["+"]) != 1 || !strings.HasPrefix(lines["+"][0], "Huge report.docx ") || len(lines["~"])+len(lines["-"]) != 0 {
		t.Errorf("plan after the failed export: want exit 2 and only `+ Huge report.docx`\n%s", res)
	}
	write(`skip_google_docs = true`)
	res = runDrive(t, l.Base, "plan", "-detailed-exitcode", "-config", l.Config)
	if res.Code != 0 || !strings.Contains(res.Stdout, "No changes.") {
		t.Errorf("plan with skip_google_docs = true: want exit 0 and No changes. (Docs are not listed; copies of Docs made before are kept with delete = \"none\")\n%s", res)
	}
}

// A Drive source whose folder_id these credentials cannot see (mistyped,
// deleted, not shared) fails plan and apply with exit 1: Drive answers a
// query on such a folder with an empty page, and a mirror must not take
// that for an empty source and delete its copies.
func TestGDriveMissingSourceFolder(t *testing.T) {
	srv := newFakeDrive(t)
	l := newLayout(t)
	tr := newDriveTree(t, srv, "Mirrored")
	cfg := filepath.Join(l.Base, "mirror.hcl")
	write := func(folder string) {
		writeHCL(t, cfg, filepath.Join(l.Base, "mirror.db"), nil,
			gdriveBlock{Name: "team", Srv: srv, Folder: folder}.hcl(),
			localBlock("dst", l.Dst),
			syncBlock("mirror", "backend.gdrive.team", "backend.local.dst", `delete = "all"`))
	}
	write(tr.Folder)
	if res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", cfg); res.Code != 0 {
		t.Fatalf("first apply: want exit 0\n%s", res)
	}
	assertDirHolds(t, l.Dst, tr.Want)

	const typo = "1NoSuchFolderAtAll0000000000"
	write(typo)
	for _, cmd := range [][]string{{"plan", "-detailed-exitcode"}, {"apply", "-auto-approve"}} {
		res := runDrive(t, l.Base, append(cmd, "-config", cfg)...)
		want := `gdrive "team" (folder ` + typo + ` at ` + srv.URL + `): folder_id ` + typo + `: not found (deleted, or not shared with these credentials`
		if res.Code != 1 || !strings.Contains(res.Stderr, want) || strings.Contains(res.Stdout, "to delete") {
			t.Errorf("%s with a mistyped folder_id: want exit 1 naming it, and no deletes planned\n%s", cmd[0], res)
		}
	}
	assertDirHolds(t, l.Dst, tr.Want)
}
