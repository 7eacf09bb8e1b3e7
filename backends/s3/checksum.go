package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"syncer/backends"
)

var _ backends.FullChecksummer = (*Backend)(nil)

// FullChecksum returns the object's full-object CRC64NVME (HeadObject with
// ChecksumMode), which AWS keeps for every object written since 2025 and
// copies with it; "" when the store reports none, or only a composite one
// (parts' checksums of checksums).
func (b *Backend) FullChecksum(ctx context.Context, key string) (string, error) {
	k, err := b.objKey(key)
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", b, err)
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			return "", b.notFound("stat", key)
		}
		return "", b.wrap(ctx, "stat", key, err)
	}
	if v := aws.ToString(out.ChecksumCRC64NVME); v != "" && out.ChecksumType != types.ChecksumTypeComposite {
		return "crc64nvme:" + v, nil
	}
	return "", nil
}
