package backends

// KeyRefuser is implemented by backends that can never hold some keys a
// source may list: a name longer than the filesystem allows, a name the
// backend reserves for itself. Plan asks the destination about every
// source key, so that such a key is reported and skipped once instead of
// failing every apply.
type KeyRefuser interface {
	// RefuseKey returns why the backend can never store key, or nil when
	// it may. It is pure and cheap (no I/O) and says nothing about
	// transient failures; key has passed CheckKey.
	RefuseKey(key string) error
}

// RefuseKey returns why b can never store key, or nil when b may (or does
// not say).
func RefuseKey(b Backend, key string) error {
	if r, ok := b.(KeyRefuser); ok {
		return r.RefuseKey(key)
	}
	return nil
}
