package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"syncer/backends"
)

var _ backends.ConditionalStore = (*Backend)(nil)

// isPrecondition reports a conditional write refused: 412, or 409
// ConditionalRequestConflict (AWS, for a conditional write racing another).
func isPrecondition(err error) bool {
	code := errorCode(err)
	return code == "PreconditionFailed" || code == "ConditionalRequestConflict" ||
		httpStatus(err) == http.StatusPreconditionFailed
}

// GetObject streams the whole object at key with its ETag, time and size.
func (b *Backend) GetObject(ctx context.Context, key string) (io.ReadCloser, backends.ObjectInfo, error) {
	k, err := b.objKey(key)
	if err != nil {
		return nil, backends.ObjectInfo{}, fmt.Errorf("get %s: %w", b, err)
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return nil, backends.ObjectInfo{}, b.notFound("get", key)
		}
		return nil, backends.ObjectInfo{}, b.wrap(ctx, "get", key, err)
	}
	return out.Body, backends.ObjectInfo{
		ETag:         unquote(aws.ToString(out.ETag)),
		LastModified: aws.ToTime(out.LastModified),
		Size:         aws.ToInt64(out.ContentLength),
	}, nil
}

// Head returns the object at key and the store's clock (the reply's Date).
func (b *Backend) Head(ctx context.Context, key string) (backends.ObjectInfo, time.Time, error) {
	k, err := b.objKey(key)
	if err != nil {
		return backends.ObjectInfo{}, time.Time{}, fmt.Errorf("head %s: %w", b, err)
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return backends.ObjectInfo{}, time.Time{}, b.notFound("head", key)
		}
		return backends.ObjectInfo{}, time.Time{}, b.wrap(ctx, "head", key, err)
	}
	return backends.ObjectInfo{
		ETag:         unquote(aws.ToString(out.ETag)),
		LastModified: aws.ToTime(out.LastModified),
		Size:         aws.ToInt64(out.ContentLength),
	}, serverDate(out.ResultMetadata), nil
}

// serverDate is the Date header of a reply, zero when absent or unreadable.
func serverDate(md middleware.Metadata) time.Time {
	resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok || resp == nil {
		return time.Time{}
	}
	t, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t
}

// PutIf stores size bytes of r at key with one PutObject carrying cond. The
// body is read once for its MD5 (Content-MD5), then sent; the SDK may
// resend it. A refused condition whose key now holds exactly these bytes
// (same MD5 ETag) is taken as this write's own, answered but lost and
// retried by the SDK.
func (b *Backend) PutIf(ctx context.Context, key string, r io.ReadSeeker, size int64, cond backends.Cond) (string, error) {
	k, err := b.objKey(key)
	if err != nil {
		return "", fmt.Errorf("put %s: %w", b, err)
	}
	if size > MaxPartSize {
		return "", b.errorf("put", key, "%d bytes is more than one conditional PutObject takes (5 GiB)", size)
	}
	h := md5.New()
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", b.errorf("put", key, "rewind: %v", err)
	}
	if n, err := io.Copy(h, r); err != nil || n != size {
		return "", b.errorf("put", key, "reading the data: %d of %d bytes: %v", n, size, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", b.errorf("put", key, "rewind: %v", err)
	}
	sum := h.Sum(nil)
	in := b.objectWrite(k).put(written{m: &backends.Metadata{ContentType: "application/octet-stream"}})
	in.StorageClass = "" // the state is read on every run: never an archive class
	in.Body, in.ContentLength = r, aws.Int64(size)
	in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(sum))
	if cond.IfMatch != "" {
		in.IfMatch = aws.String(`"` + cond.IfMatch + `"`)
	}
	if cond.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := b.client.PutObject(ctx, in)
	md5hex := hex.EncodeToString(sum)
	if err != nil {
		// If-Match on a missing key: 404 NoSuchKey (AWS, versitygw).
		refused := isPrecondition(err) || cond.IfMatch != "" && isNotFound(err)
		if refused && ctx.Err() == nil {
			if info, _, herr := b.Head(ctx, key); herr == nil && strings.EqualFold(info.ETag, md5hex) {
				return info.ETag, nil
			}
			return "", fmt.Errorf("put %s: key %q: %w (%s)", b, key, backends.ErrPrecondition, condText(cond))
		}
		return "", b.wrap(ctx, "put", key, err)
	}
	etag := unquote(aws.ToString(out.ETag))
	if etag == "" {
		info, _, err := b.Head(ctx, key)
		if err != nil {
			return "", err
		}
		etag = info.ETag
	}
	return etag, nil
}

func condText(c backends.Cond) string {
	switch {
	case c.IfNoneMatch:
		return "the key exists"
	case c.IfMatch != "":
		return fmt.Sprintf("the key no longer holds ETag %s", c.IfMatch)
	}
	return "no condition"
}

// DeleteIf removes the object at key if it holds ETag ifMatch. The ETag is
// checked with HeadObject and sent as If-Match, which stores that do not
// know it on DeleteObject ignore.
func (b *Backend) DeleteIf(ctx context.Context, key, ifMatch string) error {
	k, err := b.objKey(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", b, err)
	}
	in := &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k)}
	if ifMatch != "" {
		info, _, err := b.Head(ctx, key)
		if errors.Is(err, backends.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if info.ETag != ifMatch {
			return fmt.Errorf("delete %s: key %q: %w (it holds ETag %s, not %s)", b, key, backends.ErrPrecondition, info.ETag, ifMatch)
		}
		in.IfMatch = aws.String(`"` + ifMatch + `"`)
	}
	_, err = b.client.DeleteObject(ctx, in)
	switch {
	case err == nil, isNotFound(err) && ctx.Err() == nil:
		return nil
	case isPrecondition(err) && ctx.Err() == nil:
		return fmt.Errorf("delete %s: key %q: %w (%s)", b, key, backends.ErrPrecondition, condText(backends.Cond{IfMatch: ifMatch}))
	}
	return b.wrap(ctx, "delete", key, err)
}

// CheckConditional writes a probe object beside key three times: created
// with If-None-Match: *, then again with If-None-Match: * and with a wrong
// If-Match, both of which must be refused. It removes the probe.
func (b *Backend) CheckConditional(ctx context.Context, key string) error {
	id := make([]byte, 8)
	rand.Read(id)
	probe := fmt.Sprintf("%s.probe-%x", key, id)
	put := func(n int, cond backends.Cond) error {
		// Different bytes each time: PutIf takes a refused write of the
		// bytes already there for its own.
		body := []byte(fmt.Sprintf("syncer conditional write probe %x #%d\n", id, n))
		_, err := b.PutIf(ctx, probe, bytes.NewReader(body), int64(len(body)), cond)
		return err
	}
	if err := put(1, backends.Cond{IfNoneMatch: true}); err != nil {
		return fmt.Errorf("checking that %s supports conditional writes: %w", b, err)
	}
	defer b.Delete(context.WithoutCancel(ctx), probe)
	for i, c := range []backends.Cond{{IfNoneMatch: true}, {IfMatch: "00000000000000000000000000000000"}} {
		err := put(i+2, c)
		if err == nil {
			header := "If-None-Match"
			if c.IfMatch != "" {
				header = "If-Match"
			}
			return fmt.Errorf("%s (bucket %q): it accepted a write with %s that it must refuse: %w; remote state needs them to keep two syncers from overwriting each other's state",
				b, b.bucket, header, backends.ErrNoConditionalWrites)
		}
		if !errors.Is(err, backends.ErrPrecondition) {
			return fmt.Errorf("checking that %s supports conditional writes: %w", b, err)
		}
	}
	return nil
}
