package e2e

import (
	"bytes"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 -> Drive: each Drive file gets the object's Content-Type as its
// mimeType (the media type: Drive keeps no parameters) and its modification time as modifiedTime: x-amz-meta-mtime
// (rclone's form) where the object has one, LastModified otherwise.
func TestS3ToGDriveMetadata(t *testing.T) {
	env := needS3(t)
	srv := newFakeDrive(t)
	l := newLayout(t)
	folder := srv.Mkdir("", "From S3")
	bucket := newS3Bucket(t, env.A, "todrive")
	c, err := env.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	withTime := time.Date(2015, 6, 1, 12, 0, 0, 500_000_000, time.UTC)
	objs := []struct {
		key, ctype string
		mime       string // Drive's mimeType: the media type, without parameters
		mtime      string // x-amz-meta-mtime, "" for none
		body       []byte
	}{
		{"photos/cat.png", "image/png", "image/png", "1433160000.5", []byte("\x89PNG not really")},
		{"docs/notes.txt", "text/plain; charset=utf-8", "text/plain", "", []byte("plain notes\n")},
	}
	for _, o := range objs {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key), Body: bytes.NewReader(o.body), ContentType: aws.String(o.ctype)}
		if o.mtime != "" {
			in.Metadata = map[string]string{"mtime": o.mtime}
		}
		if _, err := c.PutObject(t.Context(), in); err != nil {
			t.Fatalf("put %s: %v", o.key, err)
		}
	}
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("docs/notes.txt")})
	if err != nil {
		t.Fatal(err)
	}
	lastModified := aws.ToTime(head.LastModified).UTC()

	writeHCL(t, l.Config, l.State, nil,
		s3Block{Name: "src", Srv: env.A, Bucket: bucket}.hcl(env),
		gdriveBlock{Name: "team", Srv: srv, Folder: folder}.hcl(),
		syncBlock("up", "backend.s3.src", "backend.gdrive.team", ""))
	res := runDrive(t, l.Base, "apply", "-auto-approve", "-config", l.Config)
	if res.Code != 0 {
		t.Fatalf("apply S3 -> Drive: want exit 0\n%s", res)
	}
	files := driveFiles(t, srv, folder)
	for _, o := range objs {
		fi, ok := files[o.key]
		if !ok {
			t.Errorf("Drive lacks %q", o.key)
			continue
		}
		if got, err := srv.Content(fi.ID); err != nil || !bytes.Equal(got, o.body) {
			t.Errorf("Drive %q holds %q (%v); want %q", o.key, got, err, o.body)
		}
		if fi.MimeType != o.mime {
			t.Errorf("Drive %q: mimeType %q; want %q from the object's Content-Type %q", o.key, fi.MimeType, o.mime, o.ctype)
		}
		want := lastModified
		if o.mtime != "" {
			want = withTime
		}
		if !fi.Modified.Equal(want.Truncate(time.Millisecond)) {
			t.Errorf("Drive %q: modifiedTime %s; want %s", o.key, fi.Modified.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
	wantNoChanges(t, l.Base, l.Config, "after apply S3 -> Drive")
}
