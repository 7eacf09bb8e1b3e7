package backends

import (
	"fmt"
	"sync"

	"golang.org/x/time/rate"
)

// Pacers holds one request pacer per account: backends that reach a store
// as the same identity share one, since stores rate-limit per account (or
// per project, per user). The zero value is ready; a process keeps one and
// hands it to every backend it opens. limits.requests_per_second sets the
// rate, as rclone's --tpslimit.
type Pacers struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// Get returns the pacer of rps requests per second (burst: one second's
// worth, at least 1) for an account: a key naming the endpoint and the
// credentials' identity, never a secret.
func (p *Pacers) Get(account string, rps float64) *rate.Limiter {
	key := fmt.Sprintf("%s\x00%g", account, rps)
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.m[key]
	if l == nil {
		if p.m == nil {
			p.m = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
		p.m[key] = l
	}
	return l
}
