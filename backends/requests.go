package backends

import "net/http"

// RequestHook hears every HTTP request a backend sends, each attempt of a
// retried one included: the backend's name, the API operation (e.g.
// "PutObject", "files.list") and the HTTP status (0 when no response came).
// It is called concurrently and must be quick. Metrics use it.
type RequestHook func(backend, operation string, status int)

// HookTransport calls hook after each round trip through base; op names a
// request's operation.
func HookTransport(base http.RoundTripper, backend string, op func(*http.Request) string, hook RequestHook) http.RoundTripper {
	if hook == nil {
		return base
	}
	return hookTransport{base: base, backend: backend, op: op, hook: hook}
}

type hookTransport struct {
	base    http.RoundTripper
	backend string
	op      func(*http.Request) string
	hook    RequestHook
}

func (t hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	t.hook(t.backend, t.op(r), status)
	return resp, err
}
