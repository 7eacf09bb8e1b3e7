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

// ObjectRefuser is a KeyRefuser that also refuses listed objects by more
// than their key: a size over what the store holds in one object.
type ObjectRefuser interface {
	// RefuseObject returns why the backend can never store o (a source
	// object as listed), or nil; pure and cheap, as RefuseKey.
	RefuseObject(o Object) error
}

// RefuseObject returns why r can never store o: its key (RefuseKey), or
// the object itself when r is also an ObjectRefuser.
func RefuseObject(r KeyRefuser, o Object) error {
	if err := r.RefuseKey(o.Key); err != nil {
		return err
	}
	if or, ok := r.(ObjectRefuser); ok {
		return or.RefuseObject(o)
	}
	return nil
}
