package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// hashConfig computes Config.Hash from a JSON rendering of the parts that
// decide a plan's actions. JSON of structs and slices is deterministic.
func hashConfig(c *Config) string {
	type backend struct {
		Type, Name string
		Settings   any
	}
	type sync struct {
		Name, From, To, Prefix string
		Include, Exclude       []string
		Delete                 DeletePolicy
		Compare                CompareMode
		// Absent unless set, so that older configs keep their hash.
		Filters        *Filters `json:",omitempty"`
		DeleteExcluded bool     `json:",omitempty"`
		Immutable      bool     `json:",omitempty"`
	}
	view := struct {
		Version  int
		State    string
		Backends []backend
		Syncs    []sync
	}{Version: 1, State: c.State.Path}
	if c.State.Remote() {
		view.State = c.State.Backend.Addr() + ":" + c.State.Key
	}
	for _, b := range c.Backends {
		view.Backends = append(view.Backends, backend{b.Type, b.Name, settings(b)})
	}
	for _, s := range c.Syncs {
		var f *Filters
		if s.Filters.Active() {
			f = &s.Filters
		}
		view.Syncs = append(view.Syncs, sync{s.Name, s.From.Addr(), s.To.Addr(), s.Prefix, s.Include, s.Exclude, s.Delete, s.Compare, f, s.DeleteExcluded, s.Immutable})
	}
	b, err := json.Marshal(view)
	if err != nil {
		panic("config: hash: " + err.Error()) // only plain data is marshalled
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
