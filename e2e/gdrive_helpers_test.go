package e2e

// Helpers of the Google Drive end-to-end tests (issue 4): a fake Drive
// (backends/gdrive/drivetest) runs inside the test process and the built
// syncer reaches it through `endpoint = "..."`; the S3 side is the real
// versitygw server of s3_helpers_test.go, read back with rclone.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"syncer/backends/gdrive/drivetest"
)

// driveBackoffLine is what the gdrive backend logs when it retries a
// request after a rate limit or a transient error.
const driveBackoffLine = "Google Drive: backing off"

// driveShortcutLine is the note the gdrive backend logs for a shortcut it
// skips.
const driveShortcutLine = "Google Drive: skipping a shortcut"

// newFakeDrive starts a fake Drive for the test; the test's cleanup stops
// it and removes its content.
func newFakeDrive(t *testing.T) *drivetest.Server {
	t.Helper()
	noteSourceInputs.Do(statModuleSources)
	srv := drivetest.New()
	t.Cleanup(srv.Close)
	return srv
}

// gdriveBlock is a `backend "gdrive"` block for a fake Drive. The endpoint
// is the fake's base URL: the backend adds /drive/v3/ itself.
type gdriveBlock struct {
	Name      string
	Srv       *drivetest.Server
	Folder    string // folder_id
	ChunkSize string // e.g. "1MiB"; "" = default
	Extra     []string
}

func (b gdriveBlock) hcl() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "backend \"gdrive\" %q {\n", b.Name)
	fmt.Fprintf(&sb, "  folder_id  = %s\n", hclString(b.Folder))
	fmt.Fprintf(&sb, "  endpoint   = %s\n", hclString(b.Srv.URL))
	if b.ChunkSize != "" {
		fmt.Fprintf(&sb, "  chunk_size = %s\n", hclString(b.ChunkSize))
	}
	for _, line := range b.Extra {
		fmt.Fprintf(&sb, "  %s\n", line)
	}
	sb.WriteString("}\n")
	return sb.String()
}

// driveEnv is the environment of a syncer run against a fake Drive (and
// the S3 servers when env is not nil): logs at info level, so that the
// backend's notes (skipped shortcuts, backoffs) reach stderr.
func driveEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	if s3Env != nil {
		return s3SyncerEnv(s3Env, extra...)
	}
	return syncerEnv(append([]string{"SYNCER_LOG=info"}, extra...)...)
}

// runDrive runs syncer with driveEnv and checks that no S3 secret shows.
func runDrive(t *testing.T, dir string, args ...string) result {
	t.Helper()
	res := runSyncer(t, dir, driveEnv(t), args...)
	if s3Env != nil {
		checkNoSecrets(t, s3Env, res)
	}
	return res
}

// wantNoChanges runs `plan -detailed-exitcode` and fails the test unless it
// exits 0 and says "No changes.".
func wantNoChanges(t *testing.T, dir, cfg, what string) {
	t.Helper()
	res := runDrive(t, dir, "plan", "-detailed-exitcode", "-config", cfg)
	if res.Code != 0 || !strings.Contains(res.Stdout, "No changes.") {
		t.Errorf("plan %s: want exit 0 and \"No changes.\"\n%s", what, res)
	}
}

// ---- what the Drive side should yield ----

// want is the expected content of a destination: key -> bytes.
type want map[string][]byte

func (w want) keys() []string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// exportOf is what the fake Drive answers to an export of a Doc whose
// content is content in the format the backend asks for by extension ext.
func exportOf(ext string, content []byte) []byte {
	mimes := map[string]string{
		"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"svg":  "image/svg+xml",
		"pdf":  "application/pdf",
		"csv":  "text/csv",
		"txt":  "text/plain",
		"md":   "text/markdown",
	}
	m, ok := mimes[ext]
	if !ok {
		panic("exportOf: unknown extension " + ext)
	}
	return drivetest.ExportBytes(m, content)
}

// assertBucketHolds checks with rclone that bucket holds exactly the keys
// of w, each byte for byte (sha256 of `rclone cat`).
func assertBucketHolds(t *testing.T, r remote, bucket string, w want) {
	t.Helper()
	got := rcloneList(t, r, bucket)
	for _, k := range w.keys() {
		size, ok := got[k]
		if !ok {
			t.Errorf("bucket %s lacks %q", bucket, k)
			continue
		}
		delete(got, k)
		if size != int64(len(w[k])) {
			t.Errorf("bucket %s: %q is %d bytes; want %d", bucket, k, size, len(w[k]))
			continue
		}
		if sum, n := rcloneSHA256(t, r, bucket, k); sum != sha(w[k]) || n != int64(len(w[k])) {
			t.Errorf("bucket %s: %q read by rclone has sha256 %s (%d bytes); want %s (%d bytes)", bucket, k, sum, n, sha(w[k]), len(w[k]))
		}
	}
	for k := range got {
		t.Errorf("bucket %s holds %q, which is not expected from Drive", bucket, k)
	}
}

// assertDirHolds checks that dir holds exactly the regular files of w
// (slash-separated keys), byte for byte, and no temporary file.
func assertDirHolds(t *testing.T, dir string, w want) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			t.Errorf("%s: %q is not a regular file (%s)", dir, key, d.Type())
			return nil
		}
		exp, ok := w[key]
		if !ok {
			t.Errorf("%s holds %q, which is not expected", dir, key)
			return nil
		}
		seen[key] = true
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, exp) {
			t.Errorf("%s: %q has sha256 %s (%d bytes); want %s (%d bytes)", dir, key, sha(b), len(b), sha(exp), len(exp))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	for _, k := range w.keys() {
		if !seen[k] {
			t.Errorf("%s lacks %q", dir, k)
		}
	}
}

// assertBucketTimes checks with rclone (which reads the modification time
// from x-amz-meta-mtime) that each key of mod carries that time, to the
// millisecond.
func assertBucketTimes(t *testing.T, r remote, bucket string, mod map[string]time.Time) {
	t.Helper()
	out := rclone(t, []remote{r}, "lsjson", "-R", "--files-only", r.path(bucket))
	var entries []struct {
		Path    string
		ModTime time.Time
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("rclone lsjson: %v\n%s", err, tail(out, 2000))
	}
	for _, e := range entries {
		want, ok := mod[e.Path]
		if ok && !e.ModTime.Truncate(time.Millisecond).Equal(want) {
			t.Errorf("bucket %s: %q has modification time %s; want the Drive file's modifiedTime %s",
				bucket, e.Path, e.ModTime.UTC().Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
}

// assertDirTimes checks that each key of mod below dir has that mtime.
func assertDirTimes(t *testing.T, dir string, mod map[string]time.Time) {
	t.Helper()
	for k, want := range mod {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(k)))
		if err != nil {
			continue // assertDirHolds reports it
		}
		if !fi.ModTime().Equal(want) {
			t.Errorf("%s: %q has mtime %s; want the Drive file's modifiedTime %s", dir, k,
				fi.ModTime().UTC().Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
}

// driveFiles walks the non-trashed items below folder and returns its
// files (folders excluded) by key, the path of names. Names here are plain
// (no "/"), as the local trees of these tests have; two files at one key
// fail the test.
func driveFiles(t *testing.T, srv *drivetest.Server, folder string) map[string]drivetest.FileInfo {
	t.Helper()
	out := map[string]drivetest.FileInfo{}
	var walk func(id, prefix string)
	walk = func(id, prefix string) {
		for _, fi := range srv.Children(id) {
			if fi.InTrash {
				continue
			}
			key := prefix + fi.Name
			if fi.MimeType == drivetest.FolderMime {
				walk(fi.ID, key+"/")
				continue
			}
			if _, dup := out[key]; dup {
				t.Errorf("Drive holds two files at %q", key)
			}
			out[key] = fi
		}
	}
	walk(folder, "")
	return out
}

// assertDriveMatchesDir checks that the Drive folder holds exactly the
// regular files below dir, by name path, byte for byte (read back through
// the fake's store), with modifiedTime equal to the local mtime to the
// millisecond. It returns the files by key.
func assertDriveMatchesDir(t *testing.T, srv *drivetest.Server, folder, dir string) map[string]drivetest.FileInfo {
	t.Helper()
	files := driveFiles(t, srv, folder)
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		fi, ok := files[key]
		if !ok {
			t.Errorf("Drive lacks %q", key)
			return nil
		}
		seen[key] = true
		local, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		remote, err := srv.Content(fi.ID)
		if err != nil {
			t.Errorf("Drive %q: %v", key, err)
			return nil
		}
		if !bytes.Equal(local, remote) {
			t.Errorf("Drive %q has sha256 %s (%d bytes); the local file %s (%d bytes)", key, sha(remote), len(remote), sha(local), len(local))
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if wantT := st.ModTime().UTC().Truncate(time.Millisecond); !fi.Modified.Equal(wantT) {
			t.Errorf("Drive %q: modifiedTime %s; want the local mtime to the millisecond, %s (local %s)",
				key, fi.Modified.Format(time.RFC3339Nano), wantT.Format(time.RFC3339Nano), st.ModTime().Format(time.RFC3339Nano))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	for k := range files {
		if !seen[k] {
			t.Errorf("Drive holds %q, which %s does not have", k, dir)
		}
	}
	return files
}

// driveSHA256 streams the content of file id from the fake Drive over
// HTTP (alt=media, as a client downloads it) through sha256.
func driveSHA256(t *testing.T, srv *drivetest.Server, id string) (string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/drive/v3/files/"+id+"?alt=media&supportsAllDrives=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("download %s from the fake Drive: %v", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("download %s from the fake Drive: HTTP %d: %s", id, resp.StatusCode, b)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 1<<20))
	if err != nil {
		t.Fatalf("download %s from the fake Drive: %v", id, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// driveSeeded returns n bytes of deterministic pseudo-random data, by name;
// the generator of every Drive test file.
func driveSeeded(name string, n int) []byte { return seeded("gdrive/"+name, n) }
