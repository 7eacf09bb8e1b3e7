package backends

import "context"

// FullChecksummer is implemented by backends that can tell an object's
// checksum of its whole content without reading it (S3: a full-object
// CRC64NVME, from HeadObject). Equal non-empty values of two objects mean
// equal bytes, whichever backends hold them.
type FullChecksummer interface {
	// FullChecksum returns the checksum with its kind, e.g.
	// "crc64nvme:<base64>", or "" when the store keeps none for key.
	FullChecksum(ctx context.Context, key string) (string, error)
}
