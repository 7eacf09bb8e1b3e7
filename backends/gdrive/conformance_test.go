package gdrive

import (
	"testing"

	"syncer/backends"
	"syncer/backends/backendtest"
)

func TestConformance(t *testing.T) {
	srv := newFake(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return mustNew(t, testOptions(srv, newFolder(srv)))
	})
}
