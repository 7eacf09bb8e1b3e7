package gdrive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/drive/v3"
)

// authTransport wraps base with OAuth2 credentials per opts: the
// CredentialsFile (service account, with Subject for domain-wide
// delegation, or authorized user), else application default credentials;
// with a test Endpoint and no file, none. identity names the credentials
// for CanCopyFrom: a digest, never the secret itself.
func authTransport(ctx context.Context, base http.RoundTripper, opts *Options) (http.RoundTripper, string, error) {
	params := google.CredentialsParams{Scopes: []string{drive.DriveScope}, Subject: opts.Subject}
	var creds *google.Credentials
	switch {
	case opts.CredentialsFile != "":
		data, err := os.ReadFile(opts.CredentialsFile)
		if err != nil {
			return nil, "", fmt.Errorf("credentials_file: %w", err)
		}
		var head struct {
			Type        string `json:"type"`
			ClientEmail string `json:"client_email"`
			ClientID    string `json:"client_id"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			// The content is a secret: name the file, not what is in it.
			return nil, "", fmt.Errorf("credentials_file %s is not a JSON credentials file", opts.CredentialsFile)
		}
		var typ google.CredentialsType
		switch head.Type {
		case string(google.ServiceAccount):
			typ = google.ServiceAccount
		case string(google.AuthorizedUser):
			typ = google.AuthorizedUser
			if opts.Subject != "" {
				return nil, "", fmt.Errorf("subject needs service-account credentials; %s holds authorized-user credentials", opts.CredentialsFile)
			}
		default:
			return nil, "", fmt.Errorf("credentials_file %s has type %q; want \"service_account\" or \"authorized_user\"", opts.CredentialsFile, head.Type)
		}
		// Building the credentials reads the key but makes no request:
		// tokens are fetched on first use.
		creds, err = google.CredentialsFromJSONWithTypeAndParams(ctx, data, typ, params)
		if err != nil {
			return nil, "", fmt.Errorf("credentials_file %s: %v", opts.CredentialsFile, redact(err))
		}
		sum := sha256.Sum256([]byte(head.Type + "\x00" + head.ClientEmail + "\x00" + head.ClientID + "\x00" + opts.Subject))
		return &oauth2.Transport{Source: creds.TokenSource, Base: base}, "file:" + hex.EncodeToString(sum[:]), nil
	case opts.Endpoint != "":
		return base, "none:" + opts.Endpoint, nil
	default:
		var err error
		creds, err = google.FindDefaultCredentialsWithParams(ctx, params)
		if err != nil {
			return nil, "", fmt.Errorf("no credentials_file and no application default credentials (set GOOGLE_APPLICATION_CREDENTIALS, run gcloud auth application-default login, or run with a service account on GCP): %v", redact(err))
		}
		return &oauth2.Transport{Source: creds.TokenSource, Base: base}, "adc:" + opts.Subject, nil
	}
}

// redact keeps an error's message short: the oauth2 library's messages
// name files and fields, not secrets, but are cut to be safe.
func redact(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
