package backends

import (
	"context"
	"net"
	"time"
)

// IdleDialer returns an http.Transport DialContext whose connections fail
// a Read or Write that moves no byte for idle: a body stalled mid-transfer
// on an open connection (which a response-header timeout does not catch)
// then ends in a timeout error, which a backend retries like a dropped
// connection (a download from where it broke).
func IdleDialer(idle time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: idle}, nil
	}
}

// idleConn pushes its deadlines idle ahead at every Read and Write. A
// Write pushes the read deadline too: the HTTP transport keeps a Read
// pending on a pooled connection, whose deadline must count from the
// request sent, not from when the connection went idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	t := time.Now().Add(c.idle)
	c.Conn.SetDeadline(t)
	return c.Conn.Write(p)
}

// DefaultIdleTimeout is how long a transfer's connection may move no byte
// before its request is retried, unless a backend's idle_timeout says.
const DefaultIdleTimeout = 5 * time.Minute

// ParseIdleTimeout checks a backend's idle_timeout attribute ("5m", "90s"):
// a duration of at least a second. The error is the attribute's.
func ParseIdleTimeout(text string) (time.Duration, *AttrError) {
	d, err := time.ParseDuration(text)
	if err != nil || d < time.Second {
		return 0, Invalid("idle_timeout", `idle_timeout must be a duration of at least 1s such as "5m" or "90s" (how long a transfer may move no byte before it is retried); got %q.`, text)
	}
	return d, nil
}
