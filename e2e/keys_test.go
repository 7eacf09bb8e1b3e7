package e2e

// Keys a destination can never hold (issue 10, part 4): the plan shows
// them once with `!`, apply skips them and exits 0, and they never turn
// into failures or deletes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
)

// fakeS3Block is a `backend "s3"` block for an in-process fake server
// (whose keys go through E2E_FAKE_KEY_ID and E2E_FAKE_SECRET).
func fakeS3Block(name string, f *s3test.Fake, bucket string) string {
	return fmt.Sprintf(`backend "s3" %q {
  bucket            = %s
  endpoint          = %s
  force_path_style  = true
  access_key_id     = env("E2E_FAKE_KEY_ID")
  secret_access_key = env("E2E_FAKE_SECRET")
}
`, name, hclString(bucket), hclString(f.Endpoint))
}

func fakeEnv(f *s3test.Fake) []string {
	return syncerEnv("E2E_FAKE_KEY_ID="+f.AccessKey, "E2E_FAKE_SECRET="+f.SecretKey)
}

// newFakeS3 starts an in-memory S3 server for the test: unlike versitygw,
// which keeps objects as files, it holds keys no filesystem can.
func newFakeS3(t *testing.T, bucket string) (*s3test.Fake, *s3.Client) {
	t.Helper()
	noteSourceInputs.Do(statModuleSources)
	f := s3test.NewFake()
	t.Cleanup(func() { f.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	c, err := f.Client()
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

// actionLines returns the plan's per-key lines ("  + k (...)", "  ! k ...").
func actionLines(stdout string) []string {
	var out []string
	for _, l := range strings.Split(stdout, "\n") {
		if len(l) > 4 && strings.HasPrefix(l, "  ") && strings.Contains("+~-!", l[2:3]) && l[3] == ' ' {
			out = append(out, l)
		}
	}
	return out
}

// TestUnwritableKeysS3ToLocal: an S3 source holds a name longer than a
// local filesystem allows and one that collides with syncer's temporary
// names. Before, every apply failed on them (exit 3) forever.
func TestUnwritableKeysS3ToLocal(t *testing.T) {
	const bucket = "unwritable"
	f, c := newFakeS3(t, bucket)
	l := newLayout(t)
	long := "dir/" + strings.Repeat("n", 300)
	objects := map[string][]byte{
		"a.txt":         []byte("alpha"),
		"dir/b.bin":     bytes.Repeat([]byte{0, 1, 2, 255}, 10_000),
		"empty":         nil,
		long:            []byte("too long a name"),
		".syncer-tmp-x": []byte("a reserved name"),
	}
	ctx := context.Background()
	for k, d := range objects {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(d)}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	writeFile(t, filepath.Join(l.Dst, "stale.txt"), []byte("not in the source"))
	writeHCL(t, l.Config, l.State, nil, fakeS3Block("src", f, bucket), localBlock("dst", l.Dst),
		syncBlock("down", "backend.s3.src", "backend.local.dst", `delete = "all"`))
	env := fakeEnv(f)
	dst := fmt.Sprintf("local %q (%s)", "dst", l.Dst)
	wantSkips := []string{
		"  ! .syncer-tmp-x (cannot be written to " + dst + `: names starting with ".syncer-tmp-" are reserved for syncer's temporary files)`,
		"  ! " + long + " (cannot be written to " + dst + ": name longer than 255 bytes)",
	}

	res := runSyncer(t, l.Base, env, "plan", "-detailed-exitcode")
	if res.Code != 2 {
		t.Fatalf("plan: want exit 2 (changes)\n%s", res)
	}
	lines := actionLines(res.Stdout)
	for _, w := range wantSkips {
		if strings.Count(res.Stdout, w+"\n") != 1 {
			t.Errorf("plan lacks the line %q\n%s", w, res)
		}
	}
	if len(lines) != 6 { // 3 creates, 1 delete, 2 skips
		t.Errorf("plan shows %d key lines; want 6\n%s", len(lines), res)
	}
	if !strings.Contains(res.Stdout, "\nPlan: 3 to create, 0 to update, 1 to delete, 2 cannot be written (") {
		t.Errorf("plan summary does not count the skips\n%s", res)
	}

	res = runSyncer(t, l.Base, env, "apply", "-auto-approve")
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	if !regexp.MustCompile(`(?m)^Apply complete! 3 created, 0 updated, 1 deleted, 2 skipped \(cannot be written\), `).MatchString(res.Stdout) {
		t.Errorf("apply summary does not say 2 skipped\n%s", res)
	}
	// The destination holds the writable objects, byte for byte, and
	// nothing else.
	n := 0
	err := filepath.WalkDir(l.Dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel, _ := filepath.Rel(l.Dst, p)
		want, ok := objects[filepath.ToSlash(rel)]
		if got, _ := os.ReadFile(p); !ok || !bytes.Equal(got, want) {
			t.Errorf("destination file %s: %d bytes, in source %v", rel, len(got), ok)
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("destination holds %d files (err %v); want 3", n, err)
	}

	// The next plan shows the skips and nothing else, and is no change.
	res = runSyncer(t, l.Base, env, "plan", "-detailed-exitcode")
	if res.Code != 0 {
		t.Errorf("plan after apply: want exit 0 (no changes)\n%s", res)
	}
	if lines := actionLines(res.Stdout); strings.Join(lines, "\n") != strings.Join(wantSkips, "\n") {
		t.Errorf("plan after apply shows %q; want the two skips only\n%s", lines, res)
	}
	if !strings.Contains(res.Stdout, "\nPlan: 0 to create, 0 to update, 0 to delete, 2 cannot be written (0 B to transfer).\n") {
		t.Errorf("plan after apply: summary\n%s", res)
	}

	// JSON: the skips are planned changes of action "skip", counted apart.
	res = runSyncer(t, l.Base, env, "apply", "-auto-approve", "-json")
	if res.Code != 0 {
		t.Fatalf("apply -json: want exit 0\n%s", res)
	}
	skips := 0
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("apply -json line %q: %v", line, err)
		}
		switch m["type"] {
		case "planned_change":
			if m["action"] != "skip" {
				t.Errorf("apply -json plans %v", m)
			}
			skips++
		case "change_summary":
			if m["operation"] == "plan" && (m["skip"] != 2.0 || m["create"] != 0.0) {
				t.Errorf("change_summary = %v", m)
			}
			if m["operation"] == "apply" && (m["skipped"] != 2.0 || m["failed"] != 0.0) {
				t.Errorf("apply summary = %v", m)
			}
		}
	}
	if skips != 2 {
		t.Errorf("apply -json: %d skips; want 2\n%s", skips, res)
	}
}

// TestUnwritableKeysLocalToS3: a local path may be longer than the 1024
// bytes an S3 key may be.
func TestUnwritableKeysLocalToS3(t *testing.T) {
	const bucket = "longkeys"
	f, c := newFakeS3(t, bucket)
	l := newLayout(t)
	seg := strings.Repeat("s", 250)
	long := strings.Join([]string{seg, seg, seg, seg, seg}, "/") // 1254 bytes
	writeFile(t, filepath.Join(l.Src, "ok.txt"), []byte("fine"))
	writeFile(t, filepath.Join(l.Src, filepath.FromSlash(long)), []byte("too long a key"))
	writeHCL(t, l.Config, l.State, nil, localBlock("src", l.Src), fakeS3Block("dst", f, bucket),
		syncBlock("up", "backend.local.src", "backend.s3.dst"))
	env := fakeEnv(f)

	res := runSyncer(t, l.Base, env, "apply", "-auto-approve")
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	want := "  ! " + long + " (cannot be written to s3 \"dst\" (s3://" + bucket + "/ at " + f.Endpoint + "): object key longer than 1024 bytes (1254 bytes))"
	if !strings.Contains(res.Stdout, want+"\n") {
		t.Errorf("apply's plan lacks %q\n%s", want, res)
	}
	if !strings.Contains(res.Stdout, "Apply complete! 1 created, 0 updated, 0 deleted, 1 skipped (cannot be written), ") {
		t.Errorf("apply summary\n%s", res)
	}
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "ok.txt" {
		t.Errorf("bucket holds %d objects; want ok.txt alone", len(out.Contents))
	}
}
