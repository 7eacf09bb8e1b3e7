// Package registry is the one list of backend types: for each, how its
// config block is read (its Options) and how it is opened.
package registry

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"syncer/backends"
	"syncer/backends/gdrive"
	"syncer/backends/local"
	"syncer/backends/s3"
)

// Kind is one backend type.
type Kind struct {
	Name string
	// New returns empty options, for a config block to fill in.
	New func() backends.Options
	// Open opens a backend named name from options that passed Validate
	// (New's type).
	Open func(ctx context.Context, name string, opts backends.Options, env *Env) (backends.Backend, error)
}

// Env is what every backend a process opens shares. Make one per process.
type Env struct {
	Logger *slog.Logger
	// RequestsPerSecond paces each remote account's requests (S3 and
	// Google Drive); 0 = unlimited.
	RequestsPerSecond float64

	// Requests hears every request of the remote backends (metrics).
	Requests backends.RequestHook
	// Retries hears every retry of the remote backends (metrics).
	Retries backends.RetryHook

	pacers backends.Pacers
}

var kinds = []Kind{
	{
		Name: "local",
		New:  func() backends.Options { return &local.Options{} },
		Open: func(_ context.Context, name string, o backends.Options, env *Env) (backends.Backend, error) {
			opts := *o.(*local.Options)
			opts.Name, opts.Logger = name, env.Logger
			return local.New(opts)
		},
	},
	{
		Name: "s3",
		New:  func() backends.Options { return &s3.Options{} },
		Open: func(ctx context.Context, name string, o backends.Options, env *Env) (backends.Backend, error) {
			opts := *o.(*s3.Options)
			opts.Name, opts.Logger = name, env.Logger
			opts.RequestsPerSecond, opts.Pacers, opts.Requests = env.RequestsPerSecond, &env.pacers, env.Requests
			opts.Retries = env.Retries
			return s3.New(ctx, opts)
		},
	},
	{
		Name: "gdrive",
		New:  func() backends.Options { return &gdrive.Options{} },
		Open: func(ctx context.Context, name string, o backends.Options, env *Env) (backends.Backend, error) {
			opts := *o.(*gdrive.Options)
			opts.Name, opts.Logger = name, env.Logger
			opts.RequestsPerSecond, opts.Pacers, opts.Requests = env.RequestsPerSecond, &env.pacers, env.Requests
			opts.Retries = env.Retries
			return gdrive.New(ctx, opts)
		},
	},
}

// Lookup returns the backend type called name.
func Lookup(name string) (Kind, bool) {
	i := slices.IndexFunc(kinds, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, false
	}
	return kinds[i], true
}

// Names lists the backend types, sorted.
func Names() []string {
	var names []string
	for _, k := range kinds {
		names = append(names, k.Name)
	}
	slices.Sort(names)
	return names
}

// Open opens a backend of type kind.
func Open(ctx context.Context, kind, name string, opts backends.Options, env *Env) (backends.Backend, error) {
	k, ok := Lookup(kind)
	if !ok {
		return nil, fmt.Errorf("backend type %q is not supported by this build", kind)
	}
	return k.Open(ctx, name, opts, env)
}
