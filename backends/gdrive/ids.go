package gdrive

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"google.golang.org/api/drive/v3"
)

// idBatch is how many ids one files.generateIds call fetches.
const idBatch = 100

// Drive has no idempotent create: a create whose answer is lost (and which
// the transport sends again) would make a second file or folder of the same
// name. So creates that can be re-sent (small files, folders, copies) carry
// an id from files.generateIds: Drive refuses it the second time, and the
// caller finds the item by that id instead.

// takeID returns a generated id, or "" to create without one (ids are
// switched off, or fetching them failed).
func (b *Backend) takeID(ctx context.Context) string {
	if b.noIDs.Load() {
		return ""
	}
	b.idsMu.Lock()
	defer b.idsMu.Unlock()
	if len(b.ids) == 0 {
		g, err := b.svc.Files.GenerateIds().Count(idBatch).Space("drive").Type("files").Context(ctx).Do()
		if err != nil || g == nil || len(g.Ids) == 0 { // a null answer: none
			b.log.Debug("Google Drive: no generated ids; creating without", "backend", b.String(), "err", err)
			return ""
		}
		b.ids = g.Ids
	}
	id := b.ids[len(b.ids)-1]
	b.ids = b.ids[:len(b.ids)-1]
	return id
}

// createOnce runs create (which must be safe to call again) with a
// generated id. When it fails, the item may still have been made with its
// answer lost: createOnce then looks the id up and returns the item if it
// is name in parent. After a 400 the create is repeated without the id; if
// that works, this Drive will not take generated ids and they are switched
// off.
func (b *Backend) createOnce(ctx context.Context, parent, name string, send func(id string) (*drive.File, error)) (*drive.File, error) {
	create := func(id string) (*drive.File, error) {
		f, err := send(id)
		if err == nil && (f == nil || f.Id == "") {
			// A null answer, or one without an id: the item may have been
			// made all the same, and is looked up by its id below.
			return nil, errors.New("the answer to the create lacks the new item (null, or no id)")
		}
		return f, err
	}
	id := b.takeID(ctx)
	f, err := create(id)
	if err == nil || id == "" || ctx.Err() != nil {
		return f, err
	}
	if statusOf(err) == http.StatusBadRequest {
		// Refused for the id, or for another reason: without the id, the
		// create tells which.
		f, err2 := create("")
		if err2 == nil && b.noIDs.CompareAndSwap(false, true) {
			b.log.Warn("Google Drive refused a generated file id; creating without ids from now on", "backend", b.String(), "err", err)
		}
		return f, err2
	}
	if got, gerr := b.get(ctx, id); gerr == nil && got != nil && !got.Trashed && got.Name == name && slices.Contains(got.Parents, parent) {
		b.log.Debug("Google Drive: a create's answer was lost; found what it made", "backend", b.String(), "id", id)
		return got, nil
	}
	return nil, err
}
