package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Delete removes the object at key; a missing key is not an error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	k, err := b.objKey(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return b.wrap(ctx, "delete", key, err)
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)})
	if err != nil && !(isNotFound(err) && ctx.Err() == nil) {
		return b.wrap(ctx, "delete", key, err)
	}
	return nil
}

// MaxBatch is the most keys one DeleteBatch takes: 1,000.
func (b *Backend) MaxBatch() int { return deleteBatch }

// DeleteBatch deletes up to MaxBatch keys with one DeleteObjects request.
// errs[i] is the error for keys[i] (nil: deleted or already missing); an
// invalid key gets its error without touching the store.
func (b *Backend) DeleteBatch(ctx context.Context, keys []string) ([]error, error) {
	if len(keys) > deleteBatch {
		return nil, fmt.Errorf("delete %s: %d keys in one batch; at most %d", b, len(keys), deleteBatch)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.wrap(ctx, "delete", "", err)
	}
	errs := make([]error, len(keys))
	index := make(map[string][]int, len(keys)) // object key -> positions in keys
	objs := make([]types.ObjectIdentifier, 0, len(keys))
	for i, key := range keys {
		k, err := b.objKey(key)
		if err != nil {
			errs[i] = fmt.Errorf("delete %s: %w", b, err)
			continue
		}
		if _, dup := index[k]; !dup {
			objs = append(objs, types.ObjectIdentifier{Key: aws.String(k)})
		}
		index[k] = append(index[k], i)
	}
	if len(objs) == 0 {
		return errs, nil
	}
	out, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(b.bucket),
		Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return nil, b.wrap(ctx, "delete", "", err)
	}
	var stray *types.Error // the first error naming no key sent
	for _, e := range out.Errors {
		code := aws.ToString(e.Code)
		if code == "NoSuchKey" {
			continue
		}
		k := aws.ToString(e.Key)
		is, ok := index[k]
		if !ok {
			if stray == nil {
				stray = &e
			}
			continue
		}
		for _, i := range is {
			errs[i] = fmt.Errorf("delete %s: key %q: %s: %s", b, keys[i], code, aws.ToString(e.Message))
		}
	}
	if stray != nil {
		// The request is quiet: the reply lists failures only, so an error
		// for a key that was not sent (none, or spelled otherwise) could
		// be any key's. Every key not reported failed is unconfirmed: it
		// fails too, and a retry deletes what is left (deleting a missing
		// key is no error).
		for i := range keys {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("delete %s: key %q: not confirmed: the store reported an error (%s: %s) for key %q, which is none of the keys sent, so it may be this key's",
					b, keys[i], aws.ToString(stray.Code), aws.ToString(stray.Message), shorten(aws.ToString(stray.Key)))
			}
		}
	}
	return errs, nil
}
