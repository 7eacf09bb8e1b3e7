package apply

import (
	"context"
	"fmt"
	"time"

	"syncer/backends"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
)

// verify checks a finished write against the plan: its size, and in
// checksum mode its md5 (as the write reported it, else as the destination
// hashes it) against srcMD5, the source's ("" when unknown). It returns the
// written object's md5 ("" when unknown; in checksum mode srcMD5 when the
// destination reports none).
func (j *job) verify(ctx context.Context, a plan.Action, got backends.Object, srcMD5 string) (string, error) {
	if a.Size >= 0 && got.Size >= 0 && got.Size != a.Size {
		return "", fmt.Errorf("verify %s: wrote %d bytes, source has %d", j.to, got.Size, a.Size)
	}
	sum := got.Hash(backends.MD5)
	if j.s.Compare != config.CompareChecksum || srcMD5 == "" {
		return sum, nil
	}
	if hs, ok := j.to.(backends.Hasher); ok && sum == "" {
		var err error
		if sum, err = hs.Hash(ctx, a.Key, backends.MD5); err != nil {
			return "", fmt.Errorf("verify %s: %w", j.to, err)
		}
	}
	if sum != "" && sum != srcMD5 {
		return "", fmt.Errorf("verify %s: written md5 %s does not match source md5 %s", j.to, sum, srcMD5)
	}
	if sum == "" {
		// The store reports no md5 (an S3 upload in parts): it holds the
		// bytes hashed as srcMD5, which is recorded as the copy's md5.
		sum = srcMD5
	}
	return sum, nil
}

// record verifies a finished write and queues its record; srcMD5 is the
// source's md5 when known ("" otherwise).
func (j *job) record(ctx context.Context, a plan.Action, got backends.Object, srcMD5 string) error {
	dstMD5, err := j.verify(ctx, a, got, srcMD5)
	if err != nil {
		return err
	}
	srcFP := a.Src
	srcFP.MD5 = srcMD5
	dstFP := state.Fingerprint{Size: got.Size, ETag: got.ETag, MD5: dstMD5, ID: got.ID}
	if !got.ModTime.IsZero() {
		dstFP.MTime = got.ModTime.UnixNano()
	}
	j.e.bytes.Add(max(got.Size, 0))
	j.e.rec.add(state.Change{Record: state.Record{Sync: j.s.Name, Key: a.Key, Src: srcFP, Dst: dstFP, Written: time.Now()}})
	return nil
}
