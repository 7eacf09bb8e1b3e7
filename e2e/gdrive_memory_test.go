package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestGDriveMemoryOneGiB streams a 1 GiB file Drive -> S3 and S3 -> Drive
// and checks that each syncer process's peak RSS stays under 96 MiB: Drive
// downloads stream, S3 uploads hold one part, Drive uploads one chunk.
//
// The fake Drive can only be given content from memory (drivetest.Add
// takes a []byte), so the file gets there the way a user's would: syncer
// uploads it from a local folder (measured too) in resumable chunks.
func TestGDriveMemoryOneGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 1 GiB Drive transfers")
	}
	env := needS3(t)
	needRclone(t)
	srv := newFakeDrive(t)
	l := newLayout(t)
	const size = 1 << 30
	const partSize = 16 << 20 // the S3 backend's default part size
	// The local file, two copies in the fake Drive (each written to a
	// temporary file first), the object in S3 and its parts while it is
	// assembled.
	requireS3FreeSpace(t, 6*size+size/2, "a 1 GiB file, two copies in the fake Drive, one in S3 and its parts",
		l.Base, env.A.Dir, os.TempDir()) // the fake Drive keeps its content under os.TempDir()
	logFloor(t, l.Base)

	start := time.Now()
	big := genPartedFile(t, filepath.Join(l.Src, "video", "big take.mov"), "gdrive-1gib", size, partSize)
	md5sum := md5File(t, big.Path)
	t.Logf("generated the 1 GiB source in %.1fs", time.Since(start).Seconds())
	const key = "video/big take.mov"

	inbox := srv.Mkdir("", "Inbox")       // local -> Drive
	restored := srv.Mkdir("", "Restored") // S3 -> Drive
	bucket := newS3Bucket(t, env.A, "gdrive-mem")
	writeHCL(t, l.Config, l.State, nil,
		localBlock("src", l.Src),
		gdriveBlock{Name: "inbox", Srv: srv, Folder: inbox}.hcl(),
		gdriveBlock{Name: "restored", Srv: srv, Folder: restored}.hcl(),
		s3Block{Name: "archive", Srv: env.A, Bucket: bucket}.hcl(env),
		syncBlock("upload", "backend.local.src", "backend.gdrive.inbox"),
		syncBlock("archive", "backend.gdrive.inbox", "backend.s3.archive"),
		syncBlock("restore", "backend.s3.archive", "backend.gdrive.restored"))

	checkDrive := func(folder, what string) {
		t.Helper()
		files := driveFiles(t, srv, folder)
		fi, ok := files[key]
		if !ok || len(files) != 1 {
			t.Fatalf("%s: Drive folder holds %d files, %q present: %v; want just %q", what, len(files), key, ok, key)
		}
		if fi.Size != size || fi.MD5 != md5sum {
			t.Errorf("%s: Drive file is %d bytes, md5 %s; want %d bytes, md5 %s", what, fi.Size, fi.MD5, int64(size), md5sum)
		}
		if sum, n := driveSHA256(t, srv, fi.ID); sum != big.SHA256 || n != size {
			t.Errorf("%s: Drive file downloads as %d bytes, sha256 %s; want %d bytes, %s", what, n, sum, int64(size), big.SHA256)
		}
	}
	step := func(target, what string) result {
		t.Helper()
		srv.ResetStats()
		res := runMeasured(t, l.Base, driveEnv(t), "apply", "-auto-approve", "-target", target, "-config", l.Config)
		checkNoSecrets(t, env, res)
		st := srv.Stats()
		t.Logf("1 GiB %s: peak RSS %s in %.1fs (exit %d); fake Drive: %.0f MiB up, %.0f MiB down, largest chunk %.1f MiB, requests %v",
			what, mib(res.MaxRSSKiB), res.Elapsed.Seconds(), res.Code,
			float64(st.Uploaded)/(1<<20), float64(st.Downloaded)/(1<<20), float64(st.MaxChunk)/(1<<20), st.ByKind)
		if res.Code != 0 {
			t.Fatalf("apply %s: want exit 0\n%s", what, res)
		}
		if sum, line := parseApplyComplete(t, res); sum.Created != 1 {
			t.Errorf("apply %s: %s; want 1 created", what, line)
		}
		checkS3RSS(t, "1 GiB "+what, res)
		return res
	}

	// 0. Put the file in Drive: local -> Drive, resumable, 8 MiB chunks.
	step("upload", "local -> Drive")
	checkDrive(inbox, "local -> Drive")

	// 1. Drive -> S3: a streamed download into a multipart upload.
	step("archive", "Drive -> S3")
	if n, etag, err := headObject(t, env.A, bucket, key); err != nil || n != size || etag != big.ETag {
		t.Errorf("S3 object: %d bytes, ETag %q (err %v); want %d bytes, ETag %s (md5s of the file's 16 MiB parts)", n, etag, err, int64(size), big.ETag)
	}
	if sum, n := rcloneSHA256(t, remote{"A", env.A}, bucket, key); n != size || sum != big.SHA256 {
		t.Errorf("S3 object read by rclone: %d bytes, sha256 %s; want %d bytes, %s", n, sum, int64(size), big.SHA256)
	}

	// 2. S3 -> Drive: ranged S3 reads into a resumable upload.
	step("restore", "S3 -> Drive")
	checkDrive(restored, "S3 -> Drive")

	for _, target := range []string{"upload", "archive", "restore"} {
		res := runDrive(t, l.Base, "plan", "-detailed-exitcode", "-target", target, "-config", l.Config)
		if res.Code != 0 {
			t.Errorf("plan -target %s after the transfers: want exit 0 (no changes)\n%s", target, res)
		}
	}
}
