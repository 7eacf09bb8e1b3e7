package s3

import (
	"context"
	"errors"

	"syncer/backends"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/time/rate"
)

// account names who a backend reaches S3 as, for sharing a request pacer
// (limits.requests_per_second): the endpoint, region and credentials'
// identity. It holds no secret.
func (b *Backend) account() string {
	c := b.creds
	return "s3\x00" + b.endpoint + "\x00" + b.region + "\x00" + c.kind + "\x00" + c.keyID + "\x00" + c.profile + "\x00" + c.roleARN
}

// paceRequests waits for lim before every HTTP request the SDK sends,
// retries included (it runs after the retry middleware), as rclone's
// --tpslimit does.
func paceRequests(lim *rate.Limiter) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("syncerPace",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := lim.Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// hookRequests calls hook with the operation and HTTP status of every
// request the SDK sends, retries included (after the retry middleware).
func hookRequests(backend string, hook backends.RequestHook) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("syncerRequests",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				status := 0
				if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil {
					status = resp.StatusCode
				} else if re, ok := errors.AsType[*smithyhttp.ResponseError](err); ok {
					status = re.HTTPStatusCode()
				}
				hook(backend, awsmiddleware.GetOperationName(ctx), status)
				return out, md, err
			}), middleware.After)
	}
}
