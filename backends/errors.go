package backends

import (
	"context"
	"errors"
	"fmt"
)

// Describe prepares a backend error for wrapping: it returns where the
// error happened (`op BACKEND: key "k"`, no key part when key is "") and
// err, made to wrap ctx.Err() when ctx is done so that callers see an
// interruption as such.
func Describe(ctx context.Context, op string, b fmt.Stringer, key string, err error) (string, error) {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%v)", cerr, err)
	}
	where := fmt.Sprintf("%s %s", op, b)
	if key != "" {
		where += fmt.Sprintf(": key %q", key)
	}
	return where, err
}
