package backends

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

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

// RetryHook hears every retry a backend decides on, of a request of the
// SDK's or of its own loops (a part re-sent, a download resumed): the
// backend's name and one of RetryReasons. Called concurrently; quick.
type RetryHook func(backend, reason string)

// Why a request is retried: the values of RetryHook's reason.
const (
	RetryThrottled   = "throttled"    // 429, 503, a store's throttling code, Drive's 403 rate limits
	RetryServerError = "server_error" // another 5xx
	RetryTimeout     = "timeout"      // 408, a dial or response-header timeout
	RetryIdleTimeout = "idle_timeout" // a transfer moved no byte for idle_timeout (IdleDialer)
	RetryConnection  = "connection"   // a connection refused, reset or closed early
	RetryOther       = "other"
)

// RetryReasons are RetryHook's reasons, in a fixed order.
var RetryReasons = []string{RetryThrottled, RetryServerError, RetryTimeout, RetryIdleTimeout, RetryConnection, RetryOther}

// RetryReason classifies a retried attempt by its HTTP status (0: no
// response) or, without one, its error.
func RetryReason(status int, err error) string {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return RetryThrottled
	case status == http.StatusRequestTimeout:
		return RetryTimeout
	case status >= 500:
		return RetryServerError
	case status != 0 || err == nil:
		return RetryOther
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Only IdleDialer's connections carry deadlines.
		return RetryIdleTimeout
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return RetryTimeout
	}
	if _, ok := errors.AsType[*net.OpError](err); ok || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return RetryConnection
	}
	return RetryOther
}
