package backends

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Options are one backend type's settings: the fields a config block
// sets, their defaults and their limits. Each backend package owns its
// Options; config decodes a block into them through Attrs and reports
// Validate's errors at the attribute they name.
type Options interface {
	// Attrs lists the attributes a config block may set, each pointing at
	// the field it fills.
	Attrs() []Attr
	// Validate fills in defaults for fields left zero, normalizes values
	// (trailing slashes, letter case) and checks every rule. Its error
	// joins one *AttrError per problem.
	Validate() error
	// Place names where the backend keeps objects: a namespace (a
	// filesystem, a bucket on an endpoint) and a slash path within it.
	// Two backends of one namespace whose paths nest overlap. Call it
	// after Validate.
	Place() (space, path string)
	// String describes the options without their secrets.
	String() string
}

// AttrKind says how an attribute's value is written in a config.
type AttrKind int

const (
	AttrString    AttrKind = iota // a string
	AttrPath                      // a file path, relative to the config's folder
	AttrBool                      // true or false
	AttrSize                      // a positive size string such as "16MiB", in bytes (*int64)
	AttrInt                       // a whole number of at least Attr.Min (*int)
	AttrStringMap                 // a map of strings (*map[string]string)
)

// Attr is one attribute of a backend block.
type Attr struct {
	Name     string
	Kind     AttrKind
	Ptr      any  // *string, *bool, *int64, *int or *map[string]string, by Kind
	Required bool // the block must set it
	Secret   bool // never printed; plan hashes record only whether it is set
	Tuning   bool // changes how, not what, a run copies: not part of plan hashes
	Min      int  // AttrInt: the smallest value
}

// AttrError is a problem with one attribute's value. Summary is a short
// title ("Invalid part_size"), Detail a sentence saying what is wrong and
// how to fix it.
type AttrError struct {
	Attr, Summary, Detail string
}

func (e *AttrError) Error() string { return e.Detail }

// Invalid returns an *AttrError titled "Invalid <attr>".
func Invalid(attr, format string, args ...any) *AttrError {
	return &AttrError{Attr: attr, Summary: "Invalid " + attr, Detail: fmt.Sprintf(format, args...)}
}

// AttrErrors returns the *AttrErrors err holds, joined or alone.
func AttrErrors(err error) []*AttrError {
	var out []*AttrError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ae *AttrError
		if errors.As(e, &ae) {
			out = append(out, ae)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// Problems collects a Validate's errors.
type Problems []error

// Add records an error; nil is ignored.
func (p *Problems) Add(err *AttrError) {
	if err != nil {
		*p = append(*p, err)
	}
}

// Err joins the errors, nil when there are none.
func (p Problems) Err() error { return errors.Join(p...) }

// Errors of ParseEndpoint.
var (
	ErrNotHTTPURL = errors.New("not an http:// or https:// URL without query or fragment")
	ErrURLUser    = errors.New("a URL with a user name or password")
)

// ParseEndpoint checks an http(s) base URL and returns it without trailing
// slashes. A user or password in it is ErrURLUser: credentials have
// attributes of their own, and endpoints are printed in messages.
func ParseEndpoint(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return v, ErrNotHTTPURL
	}
	if u.User != nil {
		return v, ErrURLUser
	}
	return strings.TrimRight(v, "/"), nil
}
