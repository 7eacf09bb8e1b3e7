package gdrive

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/backends/backendtest"
)

// tokenServer is a fake OAuth2 token endpoint: it answers every grant
// with an access token and records the JWT assertions' claims.
type tokenServer struct {
	*httptest.Server
	mu     sync.Mutex
	claims []map[string]any
	grants []string
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		ts.mu.Lock()
		ts.grants = append(ts.grants, r.Form.Get("grant_type"))
		if a := r.Form.Get("assertion"); a != "" {
			parts := strings.Split(a, ".")
			if len(parts) == 3 {
				b, _ := base64.RawURLEncoding.DecodeString(parts[1])
				var c map[string]any
				json.Unmarshal(b, &c)
				ts.claims = append(ts.claims, c)
			}
		}
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"fake-access-token","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func writeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func serviceAccountFile(t *testing.T, tokenURL, email string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeJSON(t, map[string]string{
		"type":           "service_account",
		"client_email":   email,
		"client_id":      "1234",
		"private_key_id": "kid",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":      tokenURL,
	})
}

// TestServiceAccountWithSubject: requests carry the token obtained with a
// JWT for the service account, impersonating the subject.
func TestServiceAccountWithSubject(t *testing.T) {
	srv := newFake(t)
	tok := newTokenServer(t)
	var authz []string
	var mu sync.Mutex
	srv.SetHook(func(r *http.Request) {
		mu.Lock()
		authz = append(authz, r.Header.Get("Authorization"))
		mu.Unlock()
	})
	file := serviceAccountFile(t, tok.URL, "syncer@project.iam.gserviceaccount.com")
	opts := testOptions(srv, newFolder(srv))
	opts.CredentialsFile = file
	opts.Subject = "ops@example.com"
	b := mustNew(t, opts)
	backendtest.PutBytes(t, b, "a", []byte("x"))
	if got := backendtest.ReadAll(t, b, "a"); string(got) != "x" {
		t.Errorf("read %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range authz {
		if a != "Bearer fake-access-token" {
			t.Fatalf("a request carried Authorization %q", a)
		}
	}
	tok.mu.Lock()
	defer tok.mu.Unlock()
	if len(tok.claims) != 1 || tok.claims[0]["sub"] != "ops@example.com" || tok.claims[0]["iss"] != "syncer@project.iam.gserviceaccount.com" ||
		!strings.Contains(tok.claims[0]["scope"].(string), "auth/drive") {
		t.Errorf("token requests: %v", tok.claims)
	}
	if strings.Contains(b.String(), "BEGIN") || strings.Contains(b.String(), file) {
		t.Errorf("String() shows credentials: %s", b)
	}

	// Same file and subject: one identity, so server-side copy is allowed;
	// another subject is another identity.
	if !b.CanCopyFrom(mustNew(t, opts)) {
		t.Errorf("same credentials: CanCopyFrom = false")
	}
	opts.Subject = "other@example.com"
	if b.CanCopyFrom(mustNew(t, opts)) {
		t.Errorf("another subject: CanCopyFrom = true")
	}
	opts.CredentialsFile = ""
	if b.CanCopyFrom(mustNew(t, opts)) {
		t.Errorf("unauthenticated backend: CanCopyFrom = true")
	}
}

func TestAuthorizedUser(t *testing.T) {
	srv := newFake(t)
	tok := newTokenServer(t)
	file := writeJSON(t, map[string]string{
		"type": "authorized_user", "client_id": "cid", "client_secret": "csecret",
		"refresh_token": "rtoken", "token_uri": tok.URL,
	})
	opts := testOptions(srv, newFolder(srv))
	opts.CredentialsFile = file
	b := mustNew(t, opts)
	backendtest.PutBytes(t, b, "a", []byte("x"))
	tok.mu.Lock()
	if len(tok.grants) != 1 || tok.grants[0] != "refresh_token" {
		t.Errorf("grants = %q", tok.grants)
	}
	tok.mu.Unlock()
	opts.Subject = "ops@example.com"
	if _, err := New(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "service-account") {
		t.Errorf("authorized user with a subject: %v", err)
	}
}

func TestBadCredentialsFiles(t *testing.T) {
	srv := newFake(t)
	for name, content := range map[string]string{
		"not json":         "secret-material-not-json",
		"external account": `{"type":"external_account","audience":"secret-material"}`,
	} {
		p := filepath.Join(t.TempDir(), "c.json")
		os.WriteFile(p, []byte(content), 0o600)
		opts := testOptions(srv, "root")
		opts.CredentialsFile = p
		_, err := New(t.Context(), opts)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "secret-material") {
			t.Errorf("%s: the error shows the file's content: %v", name, err)
		}
	}
}

// redirect sends every request to the fake Drive, as if it were Google.
type redirect struct{ host string }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = "http", r.host, ""
	return http.DefaultTransport.RoundTrip(req)
}

// TestApplicationDefaultCredentials: without credentials_file the backend
// uses ADC: GOOGLE_APPLICATION_CREDENTIALS, then (as on GKE with Workload
// Identity) the metadata server, asked for the Drive scope.
func TestApplicationDefaultCredentials(t *testing.T) {
	srv := newFake(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	var mu sync.Mutex
	var authz []string
	srv.SetHook(func(r *http.Request) {
		mu.Lock()
		authz = append(authz, r.Header.Get("Authorization"))
		mu.Unlock()
	})
	opts := Options{Name: "adc", FolderID: newFolder(srv), HTTPClient: &http.Client{Transport: redirect{host}},
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 10 * time.Millisecond}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())

	// GOOGLE_APPLICATION_CREDENTIALS.
	tok := newTokenServer(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountFile(t, tok.URL, "adc@project.iam.gserviceaccount.com"))
	b := mustNew(t, opts)
	backendtest.PutBytes(t, b, "a", []byte("x"))
	tok.mu.Lock()
	if len(tok.claims) != 1 || tok.claims[0]["iss"] != "adc@project.iam.gserviceaccount.com" {
		t.Errorf("ADC from GOOGLE_APPLICATION_CREDENTIALS: token requests %v", tok.claims)
	}
	tok.mu.Unlock()

	// The metadata server.
	var scopes []string
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "no flavor", 403)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		if strings.HasSuffix(r.URL.Path, "/service-accounts/default/token") {
			mu.Lock()
			scopes = append(scopes, r.URL.Query().Get("scopes"))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"metadata-token","token_type":"Bearer","expires_in":3600}`))
			return
		}
		w.Write([]byte("x"))
	}))
	defer md.Close()
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(md.URL, "http://"))
	b = mustNew(t, opts)
	authz = nil
	if got := backendtest.ReadAll(t, b, "a"); string(got) != "x" {
		t.Errorf("read through metadata credentials: %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(scopes) == 0 || !strings.Contains(scopes[0], "auth/drive") {
		t.Errorf("metadata token scopes = %q", scopes)
	}
	for _, a := range authz {
		if a != "Bearer metadata-token" {
			t.Errorf("request with Authorization %q", a)
		}
	}
}
