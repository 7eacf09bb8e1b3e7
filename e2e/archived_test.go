package e2e

// Archived objects (issue 11): an S3 source's GLACIER and DEEP_ARCHIVE
// objects, and Intelligent-Tiering objects in an archive tier (which only
// the GET tells), are shown apart by plan and handled by the source's
// archived policy: skip (default), fail or restore. The fake S3 answers as
// AWS documents (s3test.Fake.Archive).

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
)

var archivedObjects = map[string]string{
	"a.txt":               "alpha",
	"b.txt":               "bravo",
	"photos/2015/raw.cr2": "deep archive bytes",
	"photos/old.tif":      "glacier bytes",
	"photos/ir.jpg":       "glacier instant retrieval reads at once",
	"it.bin":              "intelligent tiering, archive access tier",
}

// archivedSetup fills a fake bucket (two objects archived in the listing,
// one GLACIER_IR, one Intelligent-Tiering object in its archive tier) and a
// local destination holding a file the sync deletes; attrs go in the
// source's backend block.
func archivedSetup(t *testing.T, attrs ...string) (*s3test.Fake, layout, []string) {
	t.Helper()
	const bucket = "cold"
	f, c := newFakeS3(t, bucket)
	ctx := context.Background()
	for k, d := range archivedObjects {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(d)}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	f.Archive(bucket, "photos/2015/raw.cr2", "DEEP_ARCHIVE")
	f.Archive(bucket, "photos/old.tif", "GLACIER")
	f.Archive(bucket, "photos/ir.jpg", "GLACIER_IR")
	f.Archive(bucket, "it.bin", "INTELLIGENT_TIERING")
	l := newLayout(t)
	writeFile(t, filepath.Join(l.Dst, "stale.txt"), []byte("not in the source"))
	block := strings.Replace(fakeS3Block("src", f, bucket), "}\n", strings.Join(attrs, "\n")+"\n}\n", 1)
	writeHCL(t, l.Config, l.State, nil, block, localBlock("dst", l.Dst),
		syncBlock("down", "backend.s3.src", "backend.local.dst", `delete = "all"`))
	return f, l, fakeEnv(f)
}

// dstFiles returns the destination's files and their contents.
func dstFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func wantFiles(keys ...string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		m[k] = archivedObjects[k]
	}
	return m
}

func TestArchivedSkip(t *testing.T) {
	f, l, env := archivedSetup(t)
	res := runSyncer(t, l.Base, env, "plan")
	if res.Code != 0 {
		t.Fatalf("plan: want exit 0\n%s", res)
	}
	want := []string{
		"  + a.txt (5 B)",
		"  + b.txt (5 B)",
		"  + it.bin (40 B)",
		"  ! photos/2015/raw.cr2 (archived: DEEP_ARCHIVE; restore first)",
		"  + photos/ir.jpg (39 B)",
		"  ! photos/old.tif (archived: GLACIER; restore first)",
		"  - stale.txt",
	}
	if got := actionLines(res.Stdout); !reflect.DeepEqual(got, want) {
		t.Errorf("plan lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(res.Stdout, "\nPlan: 4 to create, 0 to update, 1 to delete, 2 archived, skipped (") {
		t.Errorf("plan summary does not count the archived objects\n%s", res)
	}

	// Apply copies the rest and deletes: neither the archived objects nor
	// the Intelligent-Tiering one whose GET answers InvalidObjectState are
	// failures.
	res = runSyncer(t, l.Base, env, "apply", "-auto-approve")
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	if !regexp.MustCompile(`(?m)^Apply complete! 3 created, 0 updated, 1 deleted, 3 archived, skipped, `).MatchString(res.Stdout) {
		t.Errorf("apply summary\n%s", res)
	}
	if !strings.Contains(res.Stderr, "it.bin") || !strings.Contains(res.Stderr, "INTELLIGENT_TIERING ARCHIVE_ACCESS") {
		t.Errorf("apply does not warn about it.bin and its tier\n%s", res)
	}
	if got, w := dstFiles(t, l.Dst), wantFiles("a.txt", "b.txt", "photos/ir.jpg"); !reflect.DeepEqual(got, w) {
		t.Errorf("destination = %v; want %v", got, w)
	}
	if n := f.Restores(); len(n) != 0 {
		t.Errorf("restores requested with archived = skip: %v", n)
	}
	if n := mustStateCount(t, l.State, `SELECT count(*) FROM objects`); n != 3 {
		t.Errorf("state records %d objects; want 3", n)
	}
}

func TestArchivedFail(t *testing.T) {
	_, l, env := archivedSetup(t, `  archived = "fail"`)
	res := runSyncer(t, l.Base, env, "plan")
	if !strings.Contains(res.Stdout, `  ! photos/old.tif (archived: GLACIER; restore first (archived = "fail": counted as failed))`) ||
		!strings.Contains(res.Stdout, ", 2 archived, failing (") {
		t.Errorf("plan\n%s", res)
	}
	res = runSyncer(t, l.Base, env, "apply", "-auto-approve")
	if res.Code != 3 {
		t.Fatalf("apply: want exit 3\n%s", res)
	}
	if !strings.Contains(res.Stdout, "Apply finished with errors: 3 objects failed; 3 created, 0 updated, 0 deleted,") {
		t.Errorf("apply summary\n%s", res)
	}
	for _, w := range []string{"photos/2015/raw.cr2", "archived: DEEP_ARCHIVE", "it.bin", "must be restored before it can be read"} {
		if !strings.Contains(res.Stderr, w) {
			t.Errorf("apply's errors do not say %q\n%s", w, res)
		}
	}
	// Failures keep the deletes back.
	w := wantFiles("a.txt", "b.txt", "photos/ir.jpg")
	w["stale.txt"] = "not in the source"
	if got := dstFiles(t, l.Dst); !reflect.DeepEqual(got, w) {
		t.Errorf("destination = %v; want %v", got, w)
	}
}

func TestArchivedRestore(t *testing.T) {
	f, l, env := archivedSetup(t, `  archived = "restore"`, `  restore_days = 3`, `  restore_tier = "Bulk"`)
	res := runSyncer(t, l.Base, env, "plan")
	if !strings.Contains(res.Stdout, "  ! photos/2015/raw.cr2 (archived: DEEP_ARCHIVE; apply requests a restore)\n") ||
		!strings.Contains(res.Stdout, "\nPlan: 4 to create, 0 to update, 1 to delete, 2 to restore (") {
		t.Errorf("plan\n%s", res)
	}
	once := map[string]int{"cold/photos/2015/raw.cr2": 1, "cold/photos/old.tif": 1, "cold/it.bin": 1}
	res = runSyncer(t, l.Base, env, "apply", "-auto-approve")
	if res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	if !strings.Contains(res.Stdout, "Apply complete! 3 created, 0 updated, 1 deleted, 3 archived (3 restores pending; a later apply copies them), ") {
		t.Errorf("apply summary\n%s", res)
	}
	if got := f.Restores(); !reflect.DeepEqual(got, once) {
		t.Errorf("RestoreObject requests %v; want %v", got, once)
	}

	// While the restores run, plan shows them and apply asks for none.
	res = runSyncer(t, l.Base, env, "plan")
	if !strings.Contains(res.Stdout, "  ! photos/old.tif (archived: GLACIER; restore in progress)\n") ||
		!strings.Contains(res.Stdout, "\nPlan: 1 to create, 0 to update, 0 to delete, 2 archived, skipped (") {
		t.Errorf("plan during the restores\n%s", res)
	}
	res = runSyncer(t, l.Base, env, "apply", "-auto-approve")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Apply complete! 0 created, 0 updated, 0 deleted, 3 archived (3 restores pending; a later apply copies them), ") {
		t.Errorf("apply during the restores\n%s", res)
	}
	if got := f.Restores(); !reflect.DeepEqual(got, once) {
		t.Errorf("RestoreObject requests after a second apply %v; want %v", got, once)
	}

	// Restored: the next apply copies them.
	f.FinishRestores()
	res = runSyncer(t, l.Base, env, "apply", "-auto-approve")
	if res.Code != 0 || !regexp.MustCompile(`(?m)^Apply complete! 3 created, 0 updated, 0 deleted, \d`).MatchString(res.Stdout) {
		t.Errorf("apply once restored\n%s", res)
	}
	w := wantFiles("a.txt", "b.txt", "photos/ir.jpg", "photos/2015/raw.cr2", "photos/old.tif", "it.bin")
	if got := dstFiles(t, l.Dst); !reflect.DeepEqual(got, w) {
		t.Errorf("destination = %v; want %v", got, w)
	}
	if got := f.Restores(); !reflect.DeepEqual(got, once) {
		t.Errorf("RestoreObject requests at the end %v; want %v", got, once)
	}
	res = runSyncer(t, l.Base, env, "plan", "-detailed-exitcode")
	if res.Code != 0 {
		t.Errorf("plan at the end: want no changes\n%s", res)
	}
}

// TestArchivedS3ToS3Streamed: between two stores (streamed), an
// Intelligent-Tiering object in its archive tier, large enough to go in
// parts, is found archived while its upload reads it: the upload is
// aborted at once, not left for a resume (with archived = "fail" the
// failures keep the end-of-run cleanup back). -json counts the archived
// objects.
func TestArchivedS3ToS3Streamed(t *testing.T) {
	for _, policy := range []string{"skip", "fail"} {
		t.Run(policy, func(t *testing.T) { archivedS3ToS3(t, policy) })
	}
}

func archivedS3ToS3(t *testing.T, policy string) {
	f, c := newFakeS3(t, "cold")
	g, gc := newFakeS3(t, "warm")
	ctx := context.Background()
	big := seeded("archived/big", 6<<20)
	for k, d := range map[string][]byte{"a.txt": []byte("alpha"), "deep.bin": []byte("deep"), "it.bin": big} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cold"), Key: aws.String(k), Body: bytes.NewReader(d)}); err != nil {
			t.Fatal(err)
		}
	}
	f.Archive("cold", "deep.bin", "DEEP_ARCHIVE")
	f.Archive("cold", "it.bin", "INTELLIGENT_TIERING")
	l := newLayout(t)
	src := strings.Replace(fakeS3Block("src", f, "cold"), "}\n", "  archived = "+hclString(policy)+"\n}\n", 1)
	dst := strings.Replace(fakeS3Block("dst", g, "warm"), "}\n", "  part_size = \"5MiB\"\n}\n", 1)
	dst = strings.ReplaceAll(dst, "E2E_FAKE_", "E2E_FAKE2_")
	writeHCL(t, l.Config, l.State, nil, src, dst, syncBlock("across", "backend.s3.src", "backend.s3.dst"))
	env := append(fakeEnv(f), "E2E_FAKE2_KEY_ID="+g.AccessKey, "E2E_FAKE2_SECRET="+g.SecretKey)
	res := runSyncer(t, l.Base, env, "apply", "-auto-approve", "-json")
	want, archived, failed := 0, 2.0, 0.0
	if policy == "fail" {
		want, archived, failed = 3, 0.0, 2.0
	}
	if res.Code != want {
		t.Fatalf("apply: want exit %d\n%s", want, res)
	}
	var sawSummary, sawComplete bool
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("apply -json line %q: %v", line, err)
		}
		switch m["type"] {
		case "planned_change":
			if m["key"] == "deep.bin" && (m["action"] != "archived" || !strings.HasPrefix(m["reason"].(string), "archived: DEEP_ARCHIVE; restore first")) {
				t.Errorf("planned change %v", m)
			}
		case "change_summary":
			if m["operation"] == "plan" {
				sawSummary = m["archived"] == 1.0 && m["create"] == 2.0
				continue
			}
			sawComplete = m["archived"] == archived && m["failed"] == failed && m["created"] == 1.0 && m["restores_pending"] == 0.0
		}
	}
	if !sawSummary || !sawComplete {
		t.Errorf("apply -json does not count the archived objects (summary %v, complete %v)\n%s", sawSummary, sawComplete, res)
	}
	ups, err := gc.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("warm")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left open at the destination; want none", len(ups.Uploads))
	}
	out, err := gc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("warm")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "a.txt" {
		t.Errorf("destination holds %d objects; want a.txt only", len(out.Contents))
	}
}
