package gdrive

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"syncer/backends"
)

// maxErrorBody bounds how much of an error response is read to classify
// it (Drive's JSON errors are a few hundred bytes).
const maxErrorBody = 64 << 10

// maxRetryAfter caps a server's Retry-After.
const maxRetryAfter = 10 * time.Minute

// maxBufferedBody is the largest request body without GetBody that the
// transport copies to be able to send it again: the Drive client leaves
// GetBody unset on metadata-only create, update and copy calls, whose
// JSON bodies are small.
const maxBufferedBody = 1 << 20

// transport paces and retries every request of a backend. A request is
// retried when its body can be sent again (no body, or GetBody set, which
// the Drive client sets for metadata calls, multipart uploads from memory
// and resumable chunks) and the answer is transient: 403 with reason
// userRateLimitExceeded or rateLimitExceeded, 408, 429, 5xx, or a
// connection that failed. Delays grow exponentially from baseDelay to
// maxDelay, with jitter, and are at least the server's Retry-After.
type transport struct {
	base        http.RoundTripper
	limiter     *rate.Limiter // nil: unpaced
	name        string        // the backend, for log lines
	log         *slog.Logger
	maxAttempts int
	baseDelay   time.Duration
	maxDelay    time.Duration
	backoffs    atomic.Int64
	backend     string             // the backend's name, for retries
	retries     backends.RetryHook // nil: none
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil && req.ContentLength > 0 && req.ContentLength <= maxBufferedBody {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(ctx)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 1; ; attempt++ {
		if t.limiter != nil {
			if err := t.limiter.Wait(ctx); err != nil {
				if req.Body != nil {
					req.Body.Close()
				}
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, err
			}
		}
		r := req
		if attempt > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.base.RoundTrip(r)
		why, after, daily := transient(resp, err)
		giveUp := attempt >= t.maxAttempts || daily && attempt >= capAttempts && isWriteRequest(req)
		if why == "" || !replayable || giveUp || ctx.Err() != nil {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
		}
		delay := t.delay(attempt, after)
		t.backoffs.Add(1)
		t.retried(resp, err)
		t.log.Warn("Google Drive: backing off", "backend", t.name, "attempt", attempt, "delay", delay.Round(time.Millisecond).String(), "reason", why, "request", req.Method+" "+req.URL.Path)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// retried tells the retry hook of a retry after resp or err (resp nil:
// no response).
func (t *transport) retried(resp *http.Response, err error) {
	if t.retries == nil {
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	reason := backends.RetryReason(status, err)
	if status == http.StatusForbidden { // retried only for its rate limits
		reason = backends.RetryThrottled
	}
	t.retries(t.backend, reason)
}

// delay returns the backoff before attempt+1: base·2^(attempt-1), capped
// at maxDelay, plus up to one base of jitter, and at least retryAfter.
func (t *transport) delay(attempt int, retryAfter time.Duration) time.Duration {
	d := t.baseDelay << min(attempt-1, 30)
	if d > t.maxDelay || d <= 0 {
		d = t.maxDelay
	}
	d += time.Duration(rand.Int64N(int64(t.baseDelay) + 1))
	if retryAfter > d {
		d = min(retryAfter, maxRetryAfter)
	}
	return d
}

// driveErrorBody is the JSON error Drive sends.
type driveErrorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []struct {
			Reason   string `json:"reason"`
			Message  string `json:"message"`
			Location string `json:"location"`
		} `json:"errors"`
	} `json:"error"`
}

// transient reports why a response or error is worth retrying ("" when
// not), the server's Retry-After, and whether the answer is worded as
// Drive's daily upload cap (uploadCapMessage). It may read a 403's body
// to find its reason; the body is then replaced, so callers still see it
// whole.
func transient(resp *http.Response, err error) (string, time.Duration, bool) {
	why, after := transientWhy(resp, err)
	return why, after, daily(resp)
}

// daily reports whether resp is a 403 worded as the daily upload cap; its
// body was made re-readable by transientWhy.
func daily(resp *http.Response) bool {
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		return false
	}
	rs, ok := resp.Body.(*bytesBody)
	if !ok {
		return false
	}
	var e driveErrorBody
	if json.Unmarshal(rs.b, &e) != nil {
		return false
	}
	for _, it := range e.Error.Errors {
		if it.Reason == "userRateLimitExceeded" && it.Message == uploadCapMessage {
			return true
		}
	}
	return false
}

// bytesBody is a response body read whole (a 403's), readable again.
type bytesBody struct {
	*bytes.Reader
	b []byte
}

func (bytesBody) Close() error { return nil }

func transientWhy(resp *http.Response, err error) (string, time.Duration) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return "", 0
		}
		var ue x509.UnknownAuthorityError
		var he x509.HostnameError
		var ce *tls.CertificateVerificationError
		if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) {
			return "", 0
		}
		return "connection: " + err.Error(), 0
	}
	after := retryAfter(resp.Header.Get("Retry-After"))
	switch st := resp.StatusCode; {
	case st == http.StatusTooManyRequests:
		return "429 rate limited", after
	case st == http.StatusRequestTimeout:
		return "408 request timeout", after
	case st >= 500:
		return fmt.Sprintf("%d server error", st), after
	case st == http.StatusForbidden:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = &bytesBody{Reader: bytes.NewReader(body), b: body}
		var e driveErrorBody
		if json.Unmarshal(body, &e) == nil {
			for _, it := range e.Error.Errors {
				switch it.Reason {
				case "userRateLimitExceeded", "rateLimitExceeded":
					return "403 " + it.Reason, after
				}
			}
		}
	}
	return "", 0
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
