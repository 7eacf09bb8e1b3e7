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

// PermanentError explains a store error that retrying cannot fix (access
// refused, a missing bucket, a quota); the store's error stays reachable
// with errors.As and is printed after the explanation.
type PermanentError struct {
	Msg string
	Err error
}

func (e *PermanentError) Error() string { return e.Msg + ": " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether retrying cannot fix err: it is or wraps a
// *PermanentError, or permanent (a backend's reading of its store's
// errors; nil: none) says so. Cancellations and deadlines never are.
func IsPermanent(err error, permanent func(error) bool) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *PermanentError
	if errors.As(err, &pe) {
		return true
	}
	return permanent != nil && permanent(err)
}

// NotFound returns the error of op on a missing key of b: it wraps
// ErrNotFound.
func NotFound(op string, b fmt.Stringer, key string) error {
	return fmt.Errorf("%s %s: key %q: %w", op, b, key, ErrNotFound)
}

// Wrap adds where an error happened (see Describe) to err, nil for nil.
// When ctx is not done, explain (nil: none) may say why err is permanent
// (its reading of the store's error; "" when it is not): the result is
// then a *PermanentError.
func Wrap(ctx context.Context, op string, b fmt.Stringer, key string, err error, explain func(error) string) error {
	if err == nil {
		return nil
	}
	where, err := Describe(ctx, op, b, key, err)
	if explain != nil && ctx.Err() == nil {
		if why := explain(err); why != "" {
			return &PermanentError{Msg: where + ": " + why, Err: err}
		}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// Errorf returns an error of op on key of b, `op BACKEND: key "k": msg`.
func Errorf(op string, b fmt.Stringer, key string, format string, args ...any) error {
	return fmt.Errorf("%s %s: key %q: %s", op, b, key, fmt.Sprintf(format, args...))
}

// StopError is a store limit that no retry within this run can cure, such
// as a daily upload quota: apply takes no new work once one comes back,
// lets the transfers in flight finish, and stops as interrupted (exit
// 130) saying Reason. The object it came from is not counted as failed;
// the next run copies it.
type StopError struct {
	Reason string // what the user reads, e.g. "... limit reached; run again after it resets"
	Err    error
}

func (e *StopError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *StopError) Unwrap() error { return e.Err }

// AsStop returns the *StopError in err's chain, or nil.
func AsStop(err error) *StopError {
	var se *StopError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// ErrStopped ends a transfer that stopped at a boundary it can resume from
// (a multipart upload between parts, its parts recorded) because the run
// was asked to stop (see WithStop). It is not the object's failure.
var ErrStopped = errors.New("stopped between parts; the next run resumes the upload")

type stopKey struct{}

// WithStop returns ctx carrying stop: a context done when the run stops
// taking work (a signal, limits.duration). ctx itself still aborts
// transfers; stop only asks long ones to end at their next boundary.
func WithStop(ctx, stop context.Context) context.Context {
	return context.WithValue(ctx, stopKey{}, stop)
}

// Stopping reports whether the run that ctx belongs to was asked to stop
// (see WithStop).
func Stopping(ctx context.Context) bool {
	s, ok := ctx.Value(stopKey{}).(context.Context)
	return ok && s.Err() != nil
}
