package apply

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// newLimiter returns a process-wide byte limiter for bytesPerSec (nil when 0).
func newLimiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := int(min(bytesPerSec, 256<<10))
	return rate.NewLimiter(rate.Limit(bytesPerSec), burst)
}

// limitedReader waits for the limiter before handing out bytes; each read
// is at most the limiter's burst.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	l   *rate.Limiter
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if b := l.l.Burst(); len(p) > b {
		p = p[:b]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.l.WaitN(l.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}
