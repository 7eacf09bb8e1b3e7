package s3test

import (
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Fake is an in-process gofakes3 server over plain HTTP. It keeps data in
// memory, checks no signatures or checksums, has no UploadPartCopy, and
// its multipart ETags lack the "-N" suffix: test those paths on versitygw.
// It honours If-Match on GetObject, which gofakes3 ignores.
type Fake struct {
	Server
	srv  *httptest.Server
	arch *archive
}

// NewFake starts a fake S3 server on 127.0.0.1.
func NewFake() *Fake {
	faker := gofakes3.New(s3mem.New())
	arch := &archive{objs: map[string]*archivedObj{}}
	srv := httptest.NewServer(arch.wrap(ifMatch(faker.Server())))
	return &Fake{Server: Server{Endpoint: srv.URL, AccessKey: "fakekey", SecretKey: "fakesecret"}, srv: srv, arch: arch}
}

// ifMatch answers a GetObject whose If-Match names another ETag than the
// object's with 412 PreconditionFailed, as S3 does.
func ifMatch(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := r.Header.Get("If-Match")
		if r.Method != http.MethodGet || want == "" || Op(r) != "GetObject" {
			h.ServeHTTP(w, r)
			return
		}
		head := httptest.NewRecorder()
		hr := r.Clone(r.Context())
		hr.Method = http.MethodHead
		hr.Header.Del("Range")
		hr.Header.Del("If-Match")
		h.ServeHTTP(head, hr)
		if head.Code == http.StatusOK && strings.Trim(head.Header().Get("ETag"), `"`) != strings.Trim(want, `"`) {
			writeError(w, r, http.StatusPreconditionFailed, "PreconditionFailed")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Close stops the server.
func (f *Fake) Close() error {
	f.srv.Close()
	return nil
}
