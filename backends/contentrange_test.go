package backends

import (
	"errors"
	"net/http"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	for _, c := range []struct {
		in                string
		first, last, size int64
		ok                bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 10-14/*", 10, 14, -1, true},
		{"bytes 5-5/6", 5, 5, 6, true},
		{"bytes 5-4/6", 0, 0, 0, false},
		{"bytes 5-6/6", 0, 0, 0, false},
		{"bytes */6", 0, 0, 0, false},
		{"bytes ten-14/20", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		first, last, size, ok := ParseContentRange(c.in)
		if first != c.first || last != c.last || size != c.size || ok != c.ok {
			t.Errorf("ParseContentRange(%q) = %d, %d, %d, %v", c.in, first, last, size, ok)
		}
	}
}

func TestCheckPartial(t *testing.T) {
	const partial = http.StatusPartialContent
	for _, c := range []struct {
		name     string
		rng      string
		pos, end int64
		status   int
		cr       string
		length   int64
		wantEnd  int64
		err      string // "": no error
	}{
		{"whole", "", 0, -1, 200, "", 20, -1, ""},
		{"whole answered 206", "", 0, -1, partial, "bytes 0-19/20", 20, -1,
			`the server answered a request for the whole object with 206 Partial Content (Content-Range "bytes 0-19/20")`},
		{"as asked", "bytes=10-14", 10, 15, partial, "bytes 10-14/20", 5, 15, ""},
		{"as asked, no length", "bytes=10-14", 10, 15, partial, "bytes 10-14/20", -1, 15, ""},
		{"as asked, no size", "bytes=10-14", 10, 15, partial, "bytes 10-14/*", 5, 15, ""},
		{"to the end", "bytes=10-", 10, -1, partial, "bytes 10-19/20", 10, -1, ""},
		{"ending with the object", "bytes=15-24", 15, 25, partial, "bytes 15-19/20", 5, 20, ""},
		{"ignored", "bytes=10-14", 10, 15, 200, "", 20, 15,
			"the server answered a request for bytes=10-14 with HTTP 200, not 206 Partial Content: it ignored the range, so its bytes do not start at offset 10"},
		{"another start", "bytes=10-14", 10, 15, partial, "bytes 0-4/20", 5, 15,
			"the server answered a request for bytes=10-14 with bytes 0-4: they do not start at offset 10"},
		{"past the end asked", "bytes=10-14", 10, 15, partial, "bytes 10-19/20", 10, 15,
			`the server answered a request for bytes=10-14 with Content-Range "bytes 10-19/20": the range does not end where asked`},
		{"short of the end asked", "bytes=10-14", 10, 15, partial, "bytes 10-12/20", 3, 15,
			`the server answered a request for bytes=10-14 with Content-Range "bytes 10-12/20": the range does not end where asked`},
		{"short, size unknown", "bytes=10-14", 10, 15, partial, "bytes 10-12/*", 3, 15,
			`the server answered a request for bytes=10-14 with Content-Range "bytes 10-12/*": the range does not end where asked`},
		{"short of the object's end", "bytes=10-", 10, -1, partial, "bytes 10-14/20", 5, -1,
			`the server answered a request for bytes=10- with Content-Range "bytes 10-14/20": the range does not end where asked`},
		{"no Content-Range", "bytes=10-14", 10, 15, partial, "", 5, 15,
			`the server answered a request for bytes=10-14 with Content-Range "", not "bytes first-last/size"`},
		{"garbled", "bytes=10-14", 10, 15, partial, "bytes ten-14/20", 5, 15,
			`the server answered a request for bytes=10-14 with Content-Range "bytes ten-14/20", not "bytes first-last/size"`},
		{"another length", "bytes=10-14", 10, 15, partial, "bytes 10-14/20", 6, 15,
			`the server answered a request for bytes=10-14 with Content-Range "bytes 10-14/20" but 6 bytes`},
	} {
		t.Run(c.name, func(t *testing.T) {
			end, err := CheckPartial(c.rng, c.pos, c.end, c.status, c.cr, c.length)
			if c.err == "" {
				if err != nil || end != c.wantEnd {
					t.Errorf("CheckPartial = %d, %v; want %d, nil", end, err, c.wantEnd)
				}
				return
			}
			var re *RangeError
			if err == nil || err.Error() != c.err || !errors.As(err, &re) {
				t.Errorf("CheckPartial = %v\nwant %s", err, c.err)
			}
		})
	}
}
