package s3

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends"
	"syncer/backends/backendtest"
)

// A listing the server cuts short (truncated, with no new continuation
// token) is an error: the SDK's paginator would end it quietly, and a plan
// that trusted it would delete the copies of the keys it never saw.
func TestListRefusesTruncatedListing(t *testing.T) {
	for name, next := range map[string]string{
		"no token":       "",
		"repeated token": "<NextContinuationToken>t1</NextContinuationToken>",
	} {
		t.Run(name, func(t *testing.T) {
			var requests int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests++
				if r.URL.Query().Get("list-type") != "2" || requests > 3 {
					http.Error(w, "unexpected request", http.StatusBadRequest)
					return
				}
				token := "<NextContinuationToken>t1</NextContinuationToken>"
				if r.URL.Query().Get("continuation-token") == "t1" {
					token = next // the second page goes on, but not with a new token
				}
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>%s
<Contents><Key>k%d</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size></Contents></ListBucketResult>`, token, requests)
			}))
			defer srv.Close()
			b := mustNew(t, Options{Name: "cut", Bucket: "b", Endpoint: srv.URL, AccessKeyID: "k", SecretAccessKey: "s", Region: "us-east-1", MaxAttempts: 1})
			var keys []string
			err := b.List(t.Context(), "", func(o backends.Object) error {
				keys = append(keys, o.Key)
				return nil
			})
			if want := `list s3 "cut" (s3://b/ at ` + srv.URL + `): the server says the listing goes on but gives no new continuation token`; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("List = %v; want the truncated-listing error", err)
			}
			if strings.Join(keys, ",") != "k1,k2" || requests != 2 {
				t.Errorf("listed %q in %d requests; want k1,k2 in 2", keys, requests)
			}
		})
	}
}

// Keys that cannot be syncer keys are skipped, each with a warning naming
// it; folder markers ("dir/", the root's own marker) are skipped quietly.
func TestListSkipsKeysThatCannotBeKeys(t *testing.T) {
	bucket := newBucket(t, &fake.Server)
	c, err := fake.Client()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"root/", "root/good", "root/dir/", "root/dir/f", "root/a//b", "root/x/../y", "root/.", "other"} {
		if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("v")}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	var logs bytes.Buffer
	o := testOptions(&fake.Server, bucket, "root/")
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b := mustNew(t, o)
	if got := strings.Join(backendtest.Keys(backendtest.ListAll(t, b, "")), ","); got != "dir/f,good" {
		t.Errorf("List = %s; want dir/f,good", got)
	}
	for _, k := range []string{`root/a//b`, `root/x/../y`, `root/.`} {
		want := fmt.Sprintf(`level=WARN msg="S3: skipping an object whose key cannot be a syncer key" backend="s3 \"test\" (s3://%s/root/ at %s)" key="\"%s\""`, bucket, fake.Endpoint, k)
		if strings.Count(logs.String(), want) != 1 {
			t.Errorf("log lacks %s once:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "\n"); n != 3 {
		t.Errorf("%d log lines, want 3:\n%s", n, logs.String())
	}
}
