// Package graphapi is the one small Graph API client the Meta channels
// (the Facebook Page today; Instagram and Threads next) share, so that
// what is Meta's is decided once: the API version is pinned here, every
// call carries the token in the Authorization header and no error holds a
// URL, so the token is never in an error or a log (debug_token's
// input_token, which Meta takes only in the query, is the one token in a
// URL: it goes to Meta over TLS and nowhere else),
// and every refusal is classified once into the class the delivery engine
// acts on. An expired or revoked token (OAuthException, code 190) is a
// permanent "reconnect" that says what to do; a rate limit (codes 4, 17,
// 32, 613, the business use case codes, or a usage header at 100 %) waits
// as long as Meta says; a policy refusal is permanent with Meta's own
// message; a server error or a lost answer to a call that creates
// something is Ambiguous, since Meta may have posted it.
package graphapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
	"github.com/crierhq/crier/config/secret"
)

// Version is the Graph API version every call names. Meta supports a
// version for about two years; moving to a newer one is this line and a
// run of the tests against the vendored specs.
const Version = "v21.0"

// DefaultBase is Meta's Graph API host.
const DefaultBase = "https://graph.facebook.com"

// The Threads API is a Graph API of its own host and versions
// (developers.facebook.com/docs/threads/overview).
const (
	ThreadsBase    = "https://graph.threads.net"
	ThreadsVersion = "v1.0"
)

// maxAnswer bounds what is read of an answer: Graph API answers Crier
// asks for are a few kilobytes.
const maxAnswer = 4 << 20

// Options configure a Client.
type Options struct {
	// Base is the API's address without the version (DefaultBase when
	// empty; a test's fake otherwise).
	Base string
	// Version is the API version every call names (Version when empty):
	// Threads' own host, graph.threads.net, is at ThreadsVersion.
	Version string
	// Token is the access token (a Page token for Facebook).
	Token secret.Secret
	// HTTP makes the calls; httpcall.Client wraps it so a failed call
	// that may have reached Meta is told apart (nil: a one-minute client).
	HTTP *http.Client
	// Network names the service in errors ("Facebook").
	Network string
	// Reconnect says what to do about a refused token, in an organiser's
	// words ("reconnect the Page on the Channels page, or set
	// FACEBOOK_PAGE_TOKEN to a new long-lived Page token").
	Reconnect string
}

// Client makes Graph API calls for one account. It is safe for concurrent
// use.
type Client struct {
	base      string
	token     secret.Secret
	http      *http.Client
	network   string
	reconnect string
}

// New returns a Client; nothing is sent until the first call.
func New(o Options) *Client {
	base := strings.TrimRight(o.Base, "/")
	if base == "" {
		base = DefaultBase
	}
	_, tracked := httpcall.Client(o.HTTP, nil)
	network := o.Network
	if network == "" {
		network = "Meta"
	}
	version := o.Version
	if version == "" {
		version = Version
	}
	return &Client{base: base + "/" + version + "/", token: o.Token, http: tracked, network: network, reconnect: o.Reconnect}
}

// IsHost reports whether s is an API host as the config's api_url takes
// it: http(s), a host, no path, no query (the version is Crier's).
func IsHost(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && strings.Trim(u.Path, "/") == ""
}

// TokenShaped reports whether tok may be an access token: long enough and
// without white space (a pasted sentence or a cut-off token is not). It
// never says why in the token's own words.
func TokenShaped(tok secret.Secret) bool {
	t := tok.Reveal()
	return len(t) >= 20 && !strings.ContainsAny(t, " \t\n")
}

// Upload is a file sent as a multipart field beside the parameters.
type Upload struct {
	Field, Name string
	Data        []byte
}

// Call is one Graph API request.
type Call struct {
	// Method is GET, POST or DELETE; Path is relative to the version
	// ("1234/feed").
	Method, Path string
	// Params are the query (GET, DELETE) or the form (POST).
	Params url.Values
	// Upload, when set, makes a POST multipart.
	Upload *Upload
	// Creates marks a call that publishes something: an unknown outcome
	// is then Ambiguous, not Temporary.
	Creates bool
	// What says what the call was for ("posting to the Page"), to begin
	// its errors.
	What string
}

// Do makes c and decodes a successful answer into out (when not nil).
func (cl *Client) Do(ctx context.Context, c Call, out any) error {
	if err := ctx.Err(); err != nil {
		return channels.Temporary(fmt.Errorf("%s: %w", c.What, err))
	}
	req, err := cl.request(ctx, c)
	if err != nil {
		return channels.Permanent(fmt.Errorf("%s: %w", c.What, err))
	}
	callCtx, tr := httpcall.With(ctx)
	resp, err := cl.http.Do(req.WithContext(callCtx))
	if err != nil {
		return httpcall.Failed(fmt.Errorf("%s: calling %s: %w", c.What, cl.network, unwrapURL(err)), tr, c.Creates)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return httpcall.Failed(fmt.Errorf("%s: reading %s's answer: %w", c.What, cl.network, unwrapURL(err)), tr, c.Creates)
	}
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return unknown(c, fmt.Errorf("%s: %s's answer cannot be read: %v", c.What, cl.network, err))
		}
		return nil
	}
	return cl.classify(c, resp, raw)
}

// request builds the HTTP request, the token in the Authorization header.
func (cl *Client) request(ctx context.Context, c Call) (*http.Request, error) {
	u := cl.base + strings.TrimLeft(c.Path, "/")
	var body io.Reader
	contentType := ""
	switch {
	case c.Method == http.MethodPost && c.Upload != nil:
		b, ct, err := multipartBody(c.Params, c.Upload)
		if err != nil {
			return nil, err
		}
		body, contentType = bytes.NewReader(b), ct
	case c.Method == http.MethodPost:
		body, contentType = strings.NewReader(c.Params.Encode()), "application/x-www-form-urlencoded"
	case len(c.Params) > 0:
		u += "?" + c.Params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, u, body)
	if err != nil {
		return nil, errors.New("the Graph API address is not usable")
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+cl.token.Reveal())
	return req, nil
}

func multipartBody(params url.Values, up *Upload) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range params {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
	}
	fw, err := w.CreateFormFile(up.Field, up.Name)
	if err != nil {
		return nil, "", err
	}
	if _, err := fw.Write(up.Data); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// unknown is an answer that did not say what happened.
func unknown(c Call, err error) error {
	if c.Creates {
		return channels.Ambiguous(err)
	}
	return channels.Temporary(err)
}

// unwrapURL drops the URL from a client error (it may hold a page id and
// parameters; the token is never in it).
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
