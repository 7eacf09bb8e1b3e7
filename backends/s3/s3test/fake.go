package s3test

import (
	"net/http/httptest"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Fake is an in-process gofakes3 server over plain HTTP. It keeps data in
// memory, checks no signatures or checksums, has no UploadPartCopy, and
// its multipart ETags lack the "-N" suffix: test those paths on versitygw.
type Fake struct {
	Server
	srv *httptest.Server
}

// NewFake starts a fake S3 server on 127.0.0.1.
func NewFake() *Fake {
	faker := gofakes3.New(s3mem.New())
	srv := httptest.NewServer(faker.Server())
	return &Fake{Server: Server{Endpoint: srv.URL, AccessKey: "fakekey", SecretKey: "fakesecret"}, srv: srv}
}

// Close stops the server.
func (f *Fake) Close() error {
	f.srv.Close()
	return nil
}
