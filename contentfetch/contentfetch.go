// Package contentfetch provides the one HTTP client through which Crier
// fetches addresses that came from content (a feed item's image or enclosure,
// a post's image URL): it refuses loopback, private, link-local, multicast and
// cloud-metadata addresses at connect time, after DNS resolution and on every
// redirect, and caps each fetch's size and time.
//
// Addresses the operator wrote in the config (feed URLs, the Mastodon
// instance) are not content and do not go through it.
package contentfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBytes     = 16 << 20 // Mastodon's image limit
	DefaultMaxRedirects = 5
)

// Options configure a Client.
type Options struct {
	// Allow lists networks that may be fetched although they are not
	// public (an intranet image server, tests on 127.0.0.1). Empty: only
	// public addresses.
	Allow []netip.Prefix
	// Timeout bounds one fetch, redirects and body included.
	Timeout time.Duration
	// MaxBytes caps a fetched body.
	MaxBytes int64
	// MaxRedirects caps the redirects followed.
	MaxRedirects int
	// UserAgent is sent with every request ("Crier" when empty).
	UserAgent string
}

// Client fetches content URLs. It is safe for concurrent use.
type Client struct {
	opts Options
	http *http.Client
}

// New returns a Client; the zero Options give the secure defaults.
func New(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = DefaultMaxRedirects
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "Crier"
	}
	c := &Client{opts: opts}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, ControlContext: c.control}
	transport := &http.Transport{
		// No proxy: a proxy would connect on our behalf, out of reach of
		// the connect-time check.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           20,
		IdleConnTimeout:        30 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.http = &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > opts.MaxRedirects {
				return fmt.Errorf("more than %d redirects", opts.MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to a %q address", req.URL.Scheme)
			}
			if why := reservedName(req.URL.Hostname()); why != "" {
				return fmt.Errorf("redirect: %s", why)
			}
			return nil
		},
	}
	return c
}

// HTTPClient is the guarded client itself, for a library that wants an
// *http.Client. Its requests get no size cap; prefer Fetch.
func (c *Client) HTTPClient() *http.Client { return c.http }

// ErrBlocked is the cause of a fetch refused because the address (or one it
// redirected to) is not public and not in the allow-list.
var ErrBlocked = errors.New("address is not public")

// control runs for every connection, with the address DNS resolved to: the
// check cannot be dodged by a name that resolves to 127.0.0.1, by DNS
// rebinding or by a redirect.
func (c *Client) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read %q", ErrBlocked, address)
	}
	addr := ap.Addr().Unmap().WithZone("")
	for _, p := range c.opts.Allow {
		if p.Contains(addr) {
			return nil
		}
	}
	if why := nonPublic(addr); why != "" {
		return fmt.Errorf("%w: %s is %s (add it to fetch.allow_networks to allow it)", ErrBlocked, addr, why)
	}
	return nil
}

// Ranges that are never fetched from content, with what they are. Besides
// the kinds netip knows (loopback, private, link-local, multicast), these
// hold cloud-metadata and other special-purpose addresses.
var special = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address (Alibaba Cloud's metadata service is 100.100.100.200)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a NAT64 address"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"},
	{netip.MustParsePrefix("2001::/32"), "a Teredo address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// nonPublic says what kind of non-public address a is, or "" when it is
// public.
func nonPublic(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "not an address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata services such as 169.254.169.254 live here)"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address"
	case a.IsPrivate():
		// fd00:ec2::254, AWS's IPv6 metadata service, is a unique local address.
		return "a private address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.what
		}
	}
	return ""
}

// NonPublic says what kind of non-public address a is (loopback, private,
// link-local, a cloud metadata range…), or "" when it is public: for
// checking an address Crier gives out, as contentfetch checks those it
// fetches.
func NonPublic(a netip.Addr) string { return nonPublic(a) }

// ReservedName says why host can never resolve (it is under .example,
// .invalid or .test), or "" when it may.
func ReservedName(host string) string { return reservedName(host) }

// reservedName says why host can never be fetched when it is under a
// top-level domain reserved never to resolve (RFC 2606, RFC 6761), such as
// the sample config's camaca.example: no DNS query is made for it.
func reservedName(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, tld := range []string{"example", "invalid", "test"} {
		if h == tld || strings.HasSuffix(h, "."+tld) {
			return fmt.Sprintf("%s is under .%s, a name reserved never to resolve (RFC 2606)", host, tld)
		}
	}
	return ""
}

// ParseAllow reads an allow-list of CIDR prefixes ("10.0.0.0/8") or single
// addresses ("192.168.1.20").
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix such as 10.0.0.0/8", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Resource is a fetched body.
type Resource struct {
	// URL is the address it came from, after redirects.
	URL string
	// ContentType is the server's, or what the body looks like when the
	// server named none.
	ContentType string
	Data        []byte
	// Name is a file name for it: the last part of the path, or "image"
	// with an extension for its type.
	Name string
}

// Reason classifies why a fetch failed.
type Reason string

const (
	ReasonBadURL   Reason = "bad-url"
	ReasonBlocked  Reason = "blocked"
	ReasonStatus   Reason = "status"
	ReasonTooLarge Reason = "too-large"
	ReasonTimeout  Reason = "timeout"
	ReasonNetwork  Reason = "network"
	ReasonNotImage Reason = "not-an-image"
)

// Error is a failed fetch: what was fetched, why it failed, in words an
// organiser can act on.
type Error struct {
	URL    string
	Reason Reason
	// Status is the HTTP status for ReasonStatus.
	Status int
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("fetching %s: %v", e.URL, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Fetch GETs rawURL, an absolute http(s) URL, and reads its body within the
// size and time caps. A non-2xx answer is an error.
func (c *Client) Fetch(ctx context.Context, rawURL string) (*Resource, error) {
	shown := redact(rawURL)
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{URL: shown, Reason: ReasonBadURL, Err: errors.New("not an absolute http(s) address")}
	}
	if why := reservedName(u.Hostname()); why != "" {
		return nil, &Error{URL: shown, Reason: ReasonBadURL, Err: errors.New(why)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{URL: shown, Reason: ReasonBadURL, Err: err}
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", "image/avif,image/webp,image/png,image/jpeg,image/gif,*/*;q=0.5")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, classify(shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 16<<10))
		return nil, &Error{URL: shown, Reason: ReasonStatus, Status: resp.StatusCode, Err: fmt.Errorf("the server answered %s", resp.Status)}
	}
	limit := c.opts.MaxBytes
	if resp.ContentLength > limit {
		return nil, &Error{URL: shown, Reason: ReasonTooLarge, Err: fmt.Errorf("it is %d bytes, over the limit of %d", resp.ContentLength, limit)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, classify(shown, err)
	}
	if int64(len(data)) > limit {
		return nil, &Error{URL: shown, Reason: ReasonTooLarge, Err: fmt.Errorf("it is over the limit of %d bytes", limit)}
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	} else {
		ct = http.DetectContentType(data)
	}
	return &Resource{URL: resp.Request.URL.String(), ContentType: ct, Data: data, Name: fileName(resp.Request.URL, ct)}, nil
}

// Image fetches rawURL and checks that the body is a picture (by its bytes,
// not only by what the server says); its ContentType is then the sniffed
// image type.
func (c *Client) Image(ctx context.Context, rawURL string) (*Resource, error) {
	res, err := c.Fetch(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	ct, ok := ImageType(res.Data, res.ContentType)
	if !ok {
		return nil, &Error{URL: redact(rawURL), Reason: ReasonNotImage, Err: fmt.Errorf("it is not a picture (it looks like %s)", ct)}
	}
	res.ContentType = ct
	res.Name = fileName(mustParse(res.URL), ct)
	return res, nil
}

// ImageType reports the picture type of data: what its bytes say, or for
// formats Go cannot recognise (AVIF, HEIC) what the server declared. SVG is
// not a picture here: it can carry scripts, and no channel takes it.
func ImageType(data []byte, declared string) (string, bool) {
	sniffed := http.DetectContentType(data)
	if strings.HasPrefix(sniffed, "image/") && sniffed != "image/svg+xml" {
		return sniffed, true
	}
	switch declared {
	case "image/avif", "image/heic", "image/heif":
		if sniffed == "application/octet-stream" {
			return declared, true
		}
	}
	return sniffed, false
}

// imageExts are the file extensions of the pictures channels take.
var imageExts = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
	".webp": "image/webp", ".avif": "image/avif", ".heic": "image/heic",
}

// LooksLikeImage reports whether rawURL is an absolute http(s) URL whose
// path (or a format query parameter, as image CDNs use) names a picture
// type. It reads the address only; it fetches nothing.
func LooksLikeImage(rawURL string) bool {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	if _, ok := imageExts[strings.ToLower(path.Ext(u.Path))]; ok {
		return true
	}
	q := u.Query()
	for _, k := range []string{"format", "fm", "ext"} {
		if _, ok := imageExts["."+strings.ToLower(q.Get(k))]; ok && q.Get(k) != "" {
			return true
		}
	}
	return false
}

func fileName(u *url.URL, contentType string) string {
	base := "image"
	if u != nil {
		if b := path.Base(u.Path); b != "." && b != "/" && b != "" {
			base = b
		}
	}
	base = strings.Map(func(r rune) rune {
		if r < ' ' || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '-'
		}
		return r
	}, base)
	if len(base) > 100 {
		base = base[len(base)-100:]
	}
	if _, ok := imageExts[strings.ToLower(path.Ext(base))]; !ok {
		if ext, ok := extOf[contentType]; ok {
			base = strings.TrimSuffix(base, path.Ext(base)) + ext
		}
	}
	return base
}

// extOf is the usual extension of each picture type.
var extOf = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
	"image/avif": ".avif", "image/heic": ".heic", "image/heif": ".heif", "image/bmp": ".bmp",
}

func mustParse(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}

// classify turns a client error into an Error with its reason.
func classify(shown string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var t interface{ Timeout() bool }
	switch {
	case errors.Is(err, ErrBlocked):
		return &Error{URL: shown, Reason: ReasonBlocked, Err: blockedCause(err)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &t) && t.Timeout():
		return &Error{URL: shown, Reason: ReasonTimeout, Err: fmt.Errorf("timed out: %w", err)}
	}
	return &Error{URL: shown, Reason: ReasonNetwork, Err: err}
}

// blockedCause keeps the refusal's own words, without the dialer's
// "dial tcp 127.0.0.1:80: " wrapping.
func blockedCause(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), ErrBlocked.Error()) {
			return e
		}
	}
	return err
}

// redact hides a password in a URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "(unreadable URL)"
	}
	return u.Redacted()
}
