package s3

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"syncer/backends"
)

// With role_arn the backend assumes the role (STS AssumeRole, signed with
// the configured credentials, with the external id) and signs S3 requests
// with the role's temporary credentials.
func TestAssumeRole(t *testing.T) {
	var mu sync.Mutex
	var stsForm map[string]string
	var stsAuth string
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		stsForm = map[string]string{}
		for k := range r.PostForm {
			stsForm[k] = r.PostForm.Get(k)
		}
		stsAuth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ROLEKEY</AccessKeyId>
      <SecretAccessKey>rolesecret</SecretAccessKey>
      <SessionToken>roletoken</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/writer/s</Arn><AssumedRoleId>AROAX:s</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`))
	}))
	defer sts.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)

	p, via := proxied(t, &fake.Server)
	var s3Auth, s3Token string
	p.OnRequest = func(op string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		s3Auth, s3Token = r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token")
	}
	o := testOptions(via, newBucket(t, &fake.Server), "")
	o.AccessKeyID, o.SecretAccessKey = "SOURCEKEY", "sourcesecret"
	o.RoleARN, o.ExternalID = "arn:aws:iam::123456789012:role/writer", "ext-123"
	o.Name = "archive"
	b := mustNew(t, o)
	if err := b.List(t.Context(), "", func(backends.Object) error { return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, want := range map[string]string{
		"Action": "AssumeRole", "RoleArn": o.RoleARN, "ExternalId": "ext-123", "RoleSessionName": "syncer-archive",
	} {
		if stsForm[k] != want {
			t.Errorf("AssumeRole %s = %q; want %q", k, stsForm[k], want)
		}
	}
	if !strings.Contains(stsAuth, "Credential=SOURCEKEY/") {
		t.Errorf("AssumeRole signed with %q; want the configured keys", stsAuth)
	}
	if !strings.Contains(s3Auth, "Credential=ROLEKEY/") || s3Token != "roletoken" {
		t.Errorf("S3 request signed with %q, token %q; want the role's credentials", s3Auth, s3Token)
	}
}
