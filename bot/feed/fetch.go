package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMaxBytes is the largest feed document read when Fetcher.MaxBytes is 0.
const DefaultMaxBytes = 10 << 20

// DefaultTimeout bounds a fetch when Fetcher.Client is nil (a given client's
// own timeout, and the context's deadline, apply otherwise).
const DefaultTimeout = time.Minute

// accept asks for feeds, in the order a feed reader prefers them.
const accept = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"

// Fetcher polls feeds over HTTP(S) or from local files.
type Fetcher struct {
	// Client makes the requests; nil means a client with DefaultTimeout.
	Client *http.Client
	// UserAgent is sent with every request ("Crier" when empty).
	UserAgent string
	// MaxBytes caps the document size (DefaultMaxBytes when 0).
	MaxBytes int64
}

// Fetch polls one feed. rawURL is an http(s) URL, a file:// URL or a local
// file path. Over HTTP, cond is sent as If-None-Match / If-Modified-Since and
// a 304 answer yields NotModified without parsing anything. For a local file
// the validators are the file's size and modification time, and an
// unchanged file is NotModified likewise. Errors name the feed and its
// address (without any password in it).
func (f *Fetcher) Fetch(ctx context.Context, feedName, rawURL string, cond Conditional) (Result, error) {
	path, local, err := localPath(rawURL)
	if err != nil {
		return Result{}, fmt.Errorf("feed %q: %w", feedName, err)
	}
	if local {
		res, err := f.fetchFile(feedName, path, cond)
		if err != nil {
			return Result{}, fmt.Errorf("feed %q (%s): %w", feedName, path, err)
		}
		return res, nil
	}
	res, err := f.fetchHTTP(ctx, feedName, rawURL, cond)
	if err != nil {
		return Result{}, fmt.Errorf("feed %q (%s): %w", feedName, redact(rawURL), err)
	}
	return res, nil
}

func (f *Fetcher) maxBytes() int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return DefaultMaxBytes
}

func (f *Fetcher) fetchHTTP(ctx context.Context, feedName, rawURL string, cond Conditional) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Result{}, fmt.Errorf("making the request: %w", unwrapURLError(err))
	}
	ua := f.UserAgent
	if ua == "" {
		ua = "Crier"
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", accept)
	if cond.ETag != "" {
		req.Header.Set("If-None-Match", cond.ETag)
	}
	if cond.LastModified != "" {
		req.Header.Set("If-Modified-Since", cond.LastModified)
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		err = unwrapURLError(err)
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return Result{}, fmt.Errorf("timed out: %w", err)
		}
		return Result{}, fmt.Errorf("fetching: %w", err)
	}
	defer resp.Body.Close()

	next := Conditional{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	if resp.StatusCode == http.StatusNotModified {
		// A 304 may omit the validators; keep the ones that worked.
		if next.ETag == "" {
			next.ETag = cond.ETag
		}
		if next.LastModified == "" {
			next.LastModified = cond.LastModified
		}
		return Result{NotModified: true, Conditional: next}, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Result{}, fmt.Errorf("the server answered %s", resp.Status)
	}
	limit := f.maxBytes()
	if resp.ContentLength > limit {
		return Result{}, fmt.Errorf("the document is %d bytes, over the limit of %d", resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return Result{}, fmt.Errorf("timed out reading the document: %w", err)
		}
		return Result{}, fmt.Errorf("reading the document: %w", err)
	}
	if int64(len(body)) > limit {
		return Result{}, fmt.Errorf("the document is over the limit of %d bytes", limit)
	}
	base := rawURL
	if resp.Request != nil && resp.Request.URL != nil {
		base = resp.Request.URL.String() // after redirects
	}
	res, err := parse(feedName, body, base)
	if err != nil {
		return Result{}, err
	}
	res.Conditional = next
	return res, nil
}

func (f *Fetcher) fetchFile(feedName, path string, cond Conditional) (Result, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Result{}, fmt.Errorf("reading the file: %w", pathless(err))
	}
	if !st.Mode().IsRegular() {
		return Result{}, errors.New("not a regular file")
	}
	if limit := f.maxBytes(); st.Size() > limit {
		return Result{}, fmt.Errorf("the file is %d bytes, over the limit of %d", st.Size(), limit)
	}
	// Size and nanosecond time: an edit within the same second still counts.
	next := Conditional{
		ETag:         fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano()),
		LastModified: st.ModTime().UTC().Format(http.TimeFormat),
	}
	if cond.ETag != "" && cond.ETag == next.ETag {
		return Result{NotModified: true, Conditional: next}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Result{}, fmt.Errorf("reading the file: %w", pathless(err))
	}
	// A local file has no web address: relative links resolve against the
	// feed's own link only.
	res, err := parse(feedName, data, "")
	if err != nil {
		return Result{}, err
	}
	res.Conditional = next
	return res, nil
}

// localPath tells a file path or file:// URL from a web address.
func localPath(raw string) (string, bool, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false, errors.New("no address given")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Not a URL; maybe a path with odd characters.
		return raw, true, nil
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", false, fmt.Errorf("%s has no host", redact(raw))
		}
		return "", false, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", false, fmt.Errorf("%s names another host; only local files can be read", raw)
		}
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		return filepath.FromSlash(p), true, nil
	case "":
		return raw, true, nil
	}
	if len(u.Scheme) == 1 {
		return raw, true, nil // a Windows drive letter
	}
	return "", false, fmt.Errorf("%s: unsupported scheme %q (use http, https, file or a path)", redact(raw), u.Scheme)
}

// redact hides a password in a URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unreadable URL)"
	}
	return u.Redacted()
}

// unwrapURLError drops net/url's wrapper, whose message repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// pathless drops os's wrapper, whose message repeats the path.
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
