package s3test

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// NoConditional serves upstream with the conditional headers of every
// request (If-Match, If-None-Match) removed: a store that ignores them, as
// some S3-compatible stores do. Put it in front of a server that does not
// check signatures (Fake): the headers are signed. Close stops it.
func NoConditional(upstream string) (endpoint string, close func(), err error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("If-Match")
		r.Header.Del("If-None-Match")
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}
