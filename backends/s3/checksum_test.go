package s3

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// FullChecksum reports the CRC64NVME an object was written with, equal for
// equal bytes whoever wrote them, and "" for an object without one.
func TestFullChecksum(t *testing.T) {
	srv := needEnv(t).A
	bucket := newBucket(t, srv)
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"a": "same bytes", "b": "same bytes", "c": "other byte"} {
		if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("none"), Body: strings.NewReader("x"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, Options{Name: "crc", Bucket: bucket, Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, Region: "us-east-1", CABundle: srv.CAFile})
	sum := map[string]string{}
	for _, k := range []string{"a", "b", "c", "none"} {
		if sum[k], err = b.FullChecksum(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%v", sum)
	if !strings.HasPrefix(sum["a"], "crc64nvme:") || sum["a"] != sum["b"] || sum["a"] == sum["c"] || sum["none"] != "" {
		t.Errorf("full checksums %v; want a = b != c, none empty", sum)
	}
}
