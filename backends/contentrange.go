package backends

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ParseContentRange parses an HTTP Content-Range header of a 206 answer,
// "bytes first-last/size" (size "*": -1). ok is false for anything else,
// and for a range that is empty or runs past the size.
func ParseContentRange(s string) (first, last, size int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, total, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, z, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(z, 10, 64)
	size = -1
	if total != "*" {
		size, err3 = strconv.ParseInt(total, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || (size >= 0 && last >= size) {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

// RangeError says that the answer to a ranged read does not hold the bytes
// asked for (see CheckPartial).
type RangeError struct{ msg string }

func (e *RangeError) Error() string { return e.msg }

func rangeErrorf(format string, args ...any) error {
	return &RangeError{fmt.Sprintf(format, args...)}
}

// CheckPartial checks that the answer to a GET of bytes [pos, end) of an
// object (end < 0: to its end) holds those bytes. rng is the Range header
// sent, "" for a request of the whole object, which must not be answered
// 206. A server or proxy may ignore Range and answer 200 with the whole
// object, whose first bytes would pass for the bytes from pos; so a ranged
// request must get 206 with a Content-Range that starts at pos and ends at
// end-1 (or at the object's end, when that comes first or no end was
// asked), and a Content-Length (-1: none sent) of that range. It returns
// the end of the bytes the body holds: end, or the object's end when that
// comes first. Errors are *RangeError.
func CheckPartial(rng string, pos, end int64, status int, contentRange string, contentLength int64) (int64, error) {
	if rng == "" {
		if status == http.StatusPartialContent {
			return end, rangeErrorf("the server answered a request for the whole object with 206 Partial Content (Content-Range %q)", shorten(contentRange))
		}
		return end, nil
	}
	if status != http.StatusPartialContent {
		return end, rangeErrorf("the server answered a request for %s with HTTP %d, not 206 Partial Content: it ignored the range, so its bytes do not start at offset %d",
			rng, status, pos)
	}
	first, last, size, ok := ParseContentRange(contentRange)
	if !ok {
		return end, rangeErrorf("the server answered a request for %s with Content-Range %q, not \"bytes first-last/size\"", rng, shorten(contentRange))
	}
	want := end - 1 // last byte asked for; -2: to the end
	switch {
	case first != pos:
		return end, rangeErrorf("the server answered a request for %s with bytes %d-%d: they do not start at offset %d", rng, first, last, pos)
	case want >= 0 && last > want,
		want >= 0 && last < want && (size < 0 || last != size-1),
		want < 0 && size >= 0 && last != size-1:
		return end, rangeErrorf("the server answered a request for %s with Content-Range %q: the range does not end where asked", rng, shorten(contentRange))
	case contentLength >= 0 && contentLength != last-first+1:
		return end, rangeErrorf("the server answered a request for %s with Content-Range %q but %d bytes", rng, shorten(contentRange), contentLength)
	}
	if want >= 0 && last < want {
		return last + 1, nil // the object ends before the range
	}
	return end, nil
}

// shorten cuts a server-provided string for an error message.
func shorten(s string) string {
	const limit = 100
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
