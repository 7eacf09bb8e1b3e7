package plan_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc64"
	"io"
	"slices"
	"sync/atomic"
	"testing"

	"syncer/backends"
	"syncer/config"
	"syncer/plan"
)

// crcBackend is a backend that reports no md5 (its Hasher hidden) and
// tells full-object checksums, counting both those and reads.
type crcBackend struct {
	backends.Backend
	opens, sums *atomic.Int64
}

func (b crcBackend) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	b.opens.Add(1)
	return b.Backend.Open(ctx, key, offset, length)
}

func (b crcBackend) FullChecksum(ctx context.Context, key string) (string, error) {
	b.sums.Add(1)
	rc, err := b.Backend.Open(ctx, key, 0, -1)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5))
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return "crc64nvme:" + base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, h.Sum64())), nil
}

// In checksum mode, same-size pairs without md5s are decided by full-object
// checksums where both sides tell them, without reading either side.
func TestChecksumByFullObjectChecksums(t *testing.T) {
	for _, crc := range []bool{true, false} {
		e := newEnv(t, `compare = "checksum"`, "")
		writeFile(t, e.src, "same.bin", "identical", base)
		writeFile(t, e.dst, "same.bin", "identical", base)
		writeFile(t, e.src, "edit.bin", "version 1", base)
		writeFile(t, e.dst, "edit.bin", "version 2", base)
		var opens, sums atomic.Int64
		open := func(b *config.Backend) (backends.Backend, error) {
			inner, err := opener(b)
			if err != nil {
				return nil, err
			}
			if crc {
				return crcBackend{inner, &opens, &sums}, nil
			}
			return struct{ backends.Backend }{readCounter{inner, &opens}}, nil
		}
		p, err := plan.Make(e.ctx, e.cfg, e.st, open, plan.Options{Refresh: true, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		got := actions(t, p)
		p.Close()
		if want := []string{"adopt same.bin", "update edit.bin"}; !slices.Equal(got, want) {
			t.Errorf("crc %v: actions %q; want %q", crc, got, want)
		}
		switch {
		case crc && (opens.Load() != 0 || sums.Load() != 4):
			t.Errorf("with full checksums: %d reads, %d checksums; want 0 and 4", opens.Load(), sums.Load())
		case !crc && opens.Load() != 4:
			t.Errorf("without full checksums: %d reads; want 4 (both sides of both pairs)", opens.Load())
		}
	}
}

// readCounter counts reads of a backend whose Hasher it hides.
type readCounter struct {
	backends.Backend
	opens *atomic.Int64
}

func (b readCounter) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	b.opens.Add(1)
	return b.Backend.Open(ctx, key, offset, length)
}
