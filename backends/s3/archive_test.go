package s3

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends"
	"syncer/backends/s3/s3test"
)

// archivedBucket fills a fake bucket with one object per storage class the
// archive rules tell apart and returns a backend of it, through a proxy
// that refuses OptionalObjectAttributes when refuse is set.
func archivedBucket(t *testing.T, refuse bool) (*Backend, *s3test.Proxy, string) {
	t.Helper()
	bucket := newBucket(t, &fake.Server)
	c, err := fake.Client()
	if err != nil {
		t.Fatal(err)
	}
	classes := map[string]string{"std": "", "glacier": "GLACIER", "deep": "DEEP_ARCHIVE", "ir": "GLACIER_IR", "it": "INTELLIGENT_TIERING"}
	for k, class := range classes {
		if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
		if class != "" {
			fake.Archive(bucket, k, class)
		}
	}
	p, via := proxied(t, &fake.Server)
	if refuse {
		p.Fail = func(op string, r *http.Request) (int, string) {
			if op == "ListObjectsV2" && r.Header.Get("X-Amz-Optional-Object-Attributes") != "" {
				return http.StatusBadRequest, "InvalidArgument"
			}
			return 0, ""
		}
	}
	b := mustNew(t, Options{Name: "cold", Bucket: bucket, Endpoint: via.Endpoint, AccessKeyID: via.AccessKey, SecretAccessKey: via.SecretKey,
		Region: "us-east-1", Archived: "restore"})
	return b, p, bucket
}

type archState struct {
	Archived  string
	Restoring bool
}

func listArchived(t *testing.T, b *Backend) map[string]archState {
	t.Helper()
	got := map[string]archState{}
	err := b.List(t.Context(), "", func(o backends.Object) error {
		got[o.Key] = archState{o.Archived, o.Restoring}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// GLACIER and DEEP_ARCHIVE list as archived until a restored copy is
// readable; GLACIER_IR never; Intelligent-Tiering's archive tier only
// shows in a GET (ErrArchived) or a HeadObject. Restore asks once.
func TestArchivedListRestore(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		name := "listing tells restores"
		if refuse {
			name = "store refuses OptionalObjectAttributes"
		}
		t.Run(name, func(t *testing.T) {
			b, p, bucket := archivedBucket(t, refuse)
			want := map[string]archState{"std": {}, "ir": {}, "it": {}, "glacier": {"GLACIER", false}, "deep": {"DEEP_ARCHIVE", false}}
			if got := listArchived(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("listed %v; want %v", got, want)
			}
			if refuse && (!b.noListAttrs.Load() || p.Count("HeadObject") != 2) {
				t.Errorf("refused attributes: noListAttrs %v, %d HeadObjects; want true, 2 (one per archived object)", b.noListAttrs.Load(), p.Count("HeadObject"))
			}
			for _, k := range []string{"deep", "it"} {
				_, err := b.Open(t.Context(), k, 0, -1)
				if !errors.Is(err, backends.ErrArchived) || !IsPermanent(err) {
					t.Errorf("Open(%s) = %v (permanent: %v); want ErrArchived, permanent", k, err, IsPermanent(err))
				}
			}
			// A server-side copy of an archived object fails likewise.
			to := mustNew(t, Options{Name: "to", Bucket: newBucket(t, &fake.Server), Endpoint: b.endpoint, AccessKeyID: fake.AccessKey, SecretAccessKey: fake.SecretKey, Region: "us-east-1"})
			for _, k := range []string{"deep", "it"} {
				if _, err := to.CopyFrom(t.Context(), b, k, k, backends.Object{Key: k, Size: -1}); !errors.Is(err, backends.ErrArchived) {
					t.Errorf("CopyFrom(%s) = %v; want ErrArchived", k, err)
				}
			}
			if o, err := b.Stat(t.Context(), "it"); err != nil || o.Archived != "INTELLIGENT_TIERING" {
				t.Errorf("Stat(it) = %+v, %v; want archived INTELLIGENT_TIERING", o, err)
			}
			for _, k := range []string{"deep", "it", "deep", "it"} {
				st, err := b.Restore(t.Context(), k)
				if err != nil {
					t.Fatal(err)
				}
				if want := backends.RestoreRequested; p.Count("RestoreObject") > 2 || (st != want && st != backends.RestoreInProgress) {
					t.Errorf("Restore(%s) = %v", k, st)
				}
			}
			if got := p.Count("RestoreObject"); got != 2 {
				t.Errorf("%d RestoreObject requests; want 2 (one per object)", got)
			}
			want["deep"] = archState{"DEEP_ARCHIVE", true}
			if got := listArchived(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("listed while restoring %v; want %v", got, want)
			}
			fake.FinishRestores()
			want["deep"], want["glacier"] = archState{}, archState{"GLACIER", false}
			if got := listArchived(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("listed once restored %v; want %v", got, want)
			}
			for _, k := range []string{"deep", "it"} {
				rc, err := b.Open(t.Context(), k, 0, -1)
				if err != nil {
					t.Fatalf("Open(%s) once restored: %v", k, err)
				}
				data, _ := io.ReadAll(rc)
				rc.Close()
				if string(data) != k {
					t.Errorf("read %q; want %q", data, k)
				}
				if st, err := b.Restore(t.Context(), k); err != nil || st != backends.RestoreDone {
					t.Errorf("Restore(%s) once restored = %v, %v; want RestoreDone", k, st, err)
				}
			}
			if got := fake.Restores(); got[bucket+"/deep"] != 1 || got[bucket+"/it"] != 1 {
				t.Errorf("RestoreObject requests %v; want one each for deep and it", got)
			}
		})
	}
}
