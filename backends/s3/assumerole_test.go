package s3

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"syncer/backends"
)

// With role_arn the backend assumes the role (STS AssumeRole, signed with
// the configured credentials, with the external id) and signs S3 requests
// with the role's temporary credentials. STS is found through sts_endpoint
// or the SDK's AWS_ENDPOINT_URL_STS.
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
	for _, how := range []string{"sts_endpoint", "AWS_ENDPOINT_URL_STS"} {
		t.Run(how, func(t *testing.T) { testAssumeRole(t, sts.URL, how, &mu, &stsForm, &stsAuth) })
	}
}

func testAssumeRole(t *testing.T, stsURL, how string, mu *sync.Mutex, stsForm *map[string]string, stsAuth *string) {
	mu.Lock()
	*stsForm, *stsAuth = nil, ""
	mu.Unlock()
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
	if how == "sts_endpoint" {
		o.STSEndpoint = stsURL
	} else {
		t.Setenv("AWS_ENDPOINT_URL_STS", stsURL)
	}
	b := mustNew(t, o)
	if err := b.List(t.Context(), "", func(backends.Object) error { return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, want := range map[string]string{
		"Action": "AssumeRole", "RoleArn": o.RoleARN, "ExternalId": "ext-123", "RoleSessionName": "syncer-archive",
	} {
		if (*stsForm)[k] != want {
			t.Errorf("AssumeRole %s = %q; want %q", k, (*stsForm)[k], want)
		}
	}
	if !strings.Contains(*stsAuth, "Credential=SOURCEKEY/") {
		t.Errorf("AssumeRole signed with %q; want the configured keys", *stsAuth)
	}
	if !strings.Contains(s3Auth, "Credential=ROLEKEY/") || s3Token != "roletoken" {
		t.Errorf("S3 request signed with %q, token %q; want the role's credentials", s3Auth, s3Token)
	}
}

// With no keys in the config, the SDK's default chain is used; in a
// Kubernetes pod with a projected service-account token (IRSA), that is
// AssumeRoleWithWebIdentity with the token file, and S3 requests are signed
// with the credentials it returns.
func TestWebIdentityCredentials(t *testing.T) {
	var mu sync.Mutex
	var stsForm map[string]string
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		stsForm = map[string]string{}
		for k := range r.PostForm {
			stsForm[k] = r.PostForm.Get(k)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>PODKEY</AccessKeyId>
      <SecretAccessKey>podsecret</SecretAccessKey>
      <SessionToken>podtoken</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>system:serviceaccount:sync:syncer</SubjectFromWebIdentityToken>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/pod/s</Arn><AssumedRoleId>AROAY:s</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`))
	}))
	defer sts.Close()
	dir := t.TempDir()
	tokenFile := dir + "/token"
	if err := os.WriteFile(tokenFile, []byte("k8s-projected-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	setCredentialEnv(t, map[string]string{
		"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/pod", "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
		"AWS_ROLE_SESSION_NAME": "syncer-pod", "AWS_ENDPOINT_URL_STS": sts.URL,
	})
	s3Auth, s3Token, err := signedWithDefaultChain(t)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, want := range map[string]string{
		"Action": "AssumeRoleWithWebIdentity", "RoleArn": "arn:aws:iam::123456789012:role/pod",
		"WebIdentityToken": "k8s-projected-token", "RoleSessionName": "syncer-pod",
	} {
		if stsForm[k] != want {
			t.Errorf("AssumeRoleWithWebIdentity %s = %q; want %q", k, stsForm[k], want)
		}
	}
	if !strings.Contains(s3Auth, "Credential=PODKEY/") || s3Token != "podtoken" {
		t.Errorf("S3 request signed with %q, token %q; want the web identity's credentials", s3Auth, s3Token)
	}
}

// On an instance (EC2, or EKS without IRSA) with nothing else configured,
// the default chain ends at the instance metadata service (IMDSv2: a token
// first, then the role's credentials).
func TestInstanceMetadataCredentials(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			w.Write([]byte("imds-session-token"))
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != "imds-session-token":
			http.Error(w, "no token", http.StatusUnauthorized)
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			w.Write([]byte("node-role"))
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/node-role":
			w.Write([]byte(`{"Code":"Success","LastUpdated":"2026-11-27T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"NODEKEY","SecretAccessKey":"nodesecret","Token":"nodetoken","Expiration":"2099-01-01T00:00:00Z"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer imds.Close()
	setCredentialEnv(t, map[string]string{
		"AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.URL,
	})
	s3Auth, s3Token, err := signedWithDefaultChain(t)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		t.Fatalf("List: %v (IMDS saw %q)", err, paths)
	}
	if !strings.Contains(s3Auth, "Credential=NODEKEY/") || s3Token != "nodetoken" {
		t.Errorf("S3 request signed with %q, token %q; want the instance role's credentials (IMDS saw %q)", s3Auth, s3Token, paths)
	}
}

// setCredentialEnv clears every credential source of the SDK's default
// chain from the environment (keys, profiles, web identity, container
// credentials), then sets env.
func setCredentialEnv(t *testing.T, env map[string]string) {
	empty := t.TempDir() + "/empty"
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
	} {
		t.Setenv(k, v)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// signedWithDefaultChain lists a bucket through a backend without keys in
// its options and returns how the S3 request was signed (its Authorization
// header and session token).
func signedWithDefaultChain(t *testing.T) (auth, token string, err error) {
	var mu sync.Mutex
	p, via := proxied(t, &fake.Server)
	p.OnRequest = func(op string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth, token = r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token")
	}
	o := testOptions(via, newBucket(t, &fake.Server), "")
	o.AccessKeyID, o.SecretAccessKey, o.SessionToken = "", "", ""
	b := mustNew(t, o)
	err = b.List(t.Context(), "", func(backends.Object) error { return nil })
	mu.Lock()
	defer mu.Unlock()
	return auth, token, err
}
