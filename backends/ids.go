package backends

import "context"

// IDs are the stores' ids (Object.ID) of one action's objects, as the
// caller last recorded or listed them: Src the source's, Dst the
// destination's; "" when unknown.
type IDs struct{ Src, Dst string }

type idsKey struct{}

// WithIDs hands ids to the backend calls made with the returned ctx. A
// backend whose name lookups lag (Drive) addresses the objects by them,
// after checking that each is still the key's; others ignore them.
func WithIDs(ctx context.Context, ids IDs) context.Context {
	if ids == (IDs{}) {
		return ctx
	}
	return context.WithValue(ctx, idsKey{}, ids)
}

// IDsFrom returns the ids WithIDs put on ctx (zero when none).
func IDsFrom(ctx context.Context) IDs {
	ids, _ := ctx.Value(idsKey{}).(IDs)
	return ids
}

// IDAddresser is implemented by backends that address objects by the ids
// WithIDs hands them; callers look ids up only for those.
type IDAddresser interface {
	AddressesByID()
}

// IDJournal keeps a store's ids of items by key across runs (apply's
// state): the folders a backend whose name search lags made.
type IDJournal interface {
	// Get returns the id recorded for key, or "" when none is.
	Get(ctx context.Context, key string) (string, error)
	// Put records id for key; "" forgets it.
	Put(ctx context.Context, key, id string) error
}

// JournalUser is implemented by backends that keep ids in an IDJournal.
// JournalPlace names the backend's root among the state's stores (never a
// secret); UseJournal hands the backend the journal of that place, once
// it is opened (calling it again is harmless).
type JournalUser interface {
	JournalPlace() string
	UseJournal(IDJournal)
}

type newIDKey struct{}

// WithNewID has a backend that creates an object under an id it chose
// beforehand (Drive's generated ids) call announce with that id before it
// sends the create: a caller that records it finds the object by id
// should the create's answer be lost.
func WithNewID(ctx context.Context, announce func(id string) error) context.Context {
	return context.WithValue(ctx, newIDKey{}, announce)
}

// AnnounceID calls the function WithNewID put on ctx, if any.
func AnnounceID(ctx context.Context, id string) error {
	if fn, _ := ctx.Value(newIDKey{}).(func(string) error); fn != nil {
		return fn(id)
	}
	return nil
}
