package mastodon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
	"github.com/crierhq/crier/contentfetch"
)

// maxImageBytes is Mastodon's limit for image uploads.
const maxImageBytes = 16 << 20

// Sender posts statuses to one account on one instance.
type Sender struct {
	instance string
	client   *gomastodon.Client
	http     *http.Client         // the same transport, for calls go-mastodon lacks
	content  *contentfetch.Client // fetches images from content URLs
	limits   *cachedLimits
	log      *slog.Logger

	now          func() time.Time
	pollInterval time.Duration

	// Send may run for several deliveries at once.
	mu        sync.Mutex
	accountID gomastodon.ID // cached once verify_credentials answered
}

// New connects for real: reads the instance limits (GET /api/v2/instance
// configuration.statuses max_characters and characters_reserved_per_url,
// falling back to v1 then 500; cached, refreshed daily) and returns a
// formatter using them plus the sender. env.HTTPClient is used for every
// request (tests point it at local servers).
func New(ctx context.Context, cfg Config, env channels.Env) (channels.Formatter, channels.Sender, error) {
	s, err := newSender(cfg, env)
	if err != nil {
		return nil, nil, err
	}
	if err := s.refreshLimits(ctx); err != nil {
		if s.limits.load(s.instance) {
			s.log.Warn("mastodon: instance limits unavailable, using the cached ones", "instance", s.instance, "err", err)
		} else {
			s.log.Warn("mastodon: instance limits unavailable, using the configured budget", "instance", s.instance, "max_characters", s.limits.get().MaxCharacters, "err", err)
		}
	}
	return newFormatter(cfg, env.Campaign, s.limits.get), s, nil
}

func newSender(cfg Config, env channels.Env) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("mastodon config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("mastodon: instance and token are needed to send (set the token's environment variable, or use mode: outbox)")
	}
	_, wrapped := httpcall.Client(env.HTTPClient, func(base http.RoundTripper) http.RoundTripper { return &transport{base: base} })
	instance := strings.TrimRight(cfg.Instance, "/")
	client := gomastodon.NewClient(&gomastodon.Config{Server: instance, AccessToken: cfg.Token.Reveal()})
	client.Client = *wrapped
	client.UserAgent = "Crier (+https://github.com/crierhq/crier)"
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := defaultLimits()
	if cfg.MaxCharacters > 0 {
		l.MaxCharacters = cfg.MaxCharacters
	}
	cache := &cachedLimits{limits: l}
	if env.DataDir != "" {
		// One cache file per channel instance: two accounts may be on
		// different servers.
		cache.file = filepath.Join(env.DataDir, cfg.instance()+"-instance.json")
	}
	return &Sender{
		instance: instance, client: client, http: wrapped, content: env.ContentClient(), limits: cache, log: log,
		now: time.Now, pollInterval: time.Second,
	}, nil
}

func (s *Sender) refreshLimits(ctx context.Context) error {
	l, err := fetchLimits(ctx, s.http, s.instance)
	if err != nil {
		return err
	}
	return s.limits.set(s.instance, l, s.now())
}

// Send posts the payload's statuses in order, skipping those the ledger (or,
// after an ambiguous attempt, the account's timeline) shows already went out.
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	statuses, err := channels.BodyOf[Statuses](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	if len(statuses) == 0 {
		return channels.Receipt{}, channels.Permanent(errors.New("mastodon payload has no statuses"))
	}
	if s.limits.stale(s.now()) {
		if err := s.refreshLimits(ctx); err != nil {
			s.log.Warn("mastodon: refreshing instance limits", "err", err)
		}
	}
	ledger, ids, err := channels.LedgerParts(ctx, d)
	if err != nil {
		return channels.Receipt{}, err
	}
	var receipt channels.Receipt
	if first, ok := ids[0]; ok {
		receipt = channels.Receipt{RemoteID: first.RemoteID, RemoteURL: first.RemoteURL}
	}
	// record saves status i as posted (the first is the receipt). A failure
	// is Ambiguous: posted but not recorded, the next attempt must look first.
	record := func(i int, id gomastodon.ID, url string) error {
		part := channels.Part{Index: i, RemoteID: string(id), RemoteURL: url}
		if err := ledger.SavePart(ctx, part); err != nil {
			return channels.Ambiguous(fmt.Errorf("recording status %d of %d (id %s): %w", i+1, len(statuses), id, err))
		}
		ids[i] = part
		if i == 0 {
			receipt.RemoteID, receipt.RemoteURL = part.RemoteID, part.RemoteURL
		}
		return nil
	}
	checkRemote := d.PreviousUnknown
	var recent []*gomastodon.Status
	recentLoaded := false
	for i, st := range statuses {
		if _, ok := ids[i]; ok {
			continue
		}
		inReplyTo := st.InReplyToID
		if st.InReplyToPart > 0 {
			parent, ok := ids[st.InReplyToPart-1]
			if !ok {
				return receipt, channels.Permanent(fmt.Errorf("status %d of %d replies to part %d, which was not posted", i+1, len(statuses), st.InReplyToPart))
			}
			inReplyTo = parent.RemoteID
		}
		if checkRemote {
			if !recentLoaded {
				if recent, err = s.recentStatuses(ctx); err != nil {
					return receipt, err
				}
				recentLoaded = true
			}
			if m := findPosted(recent, st, inReplyTo); m != nil {
				s.log.Info("mastodon: status already posted by an earlier attempt", "post", d.PostID, "part", i+1, "id", m.ID)
				if err := record(i, m.ID, m.URL); err != nil {
					return receipt, err
				}
				continue
			}
		}
		toot := &gomastodon.Toot{
			Status: st.Status, InReplyToID: gomastodon.ID(inReplyTo), SpoilerText: st.SpoilerText,
			Visibility: st.Visibility, Language: st.Language, Sensitive: st.Sensitive,
		}
		for _, id := range st.MediaIDs {
			toot.MediaIDs = append(toot.MediaIDs, gomastodon.ID(id))
		}
		if st.Media != nil {
			id, err := s.uploadMedia(ctx, st.Media)
			var left *imageLeftOut
			switch {
			case errors.As(err, &left):
				// An image never stops a post: it goes out without it.
				s.log.Warn("mastodon: posting without the image", "post", d.PostID, "reason", left.Error())
				receipt.Notes = append(receipt.Notes, left.Error())
			case err != nil:
				return receipt, fmt.Errorf("status %d of %d: %w", i+1, len(statuses), err)
			default:
				toot.MediaIDs = append(toot.MediaIDs, gomastodon.ID(id))
			}
		}
		callCtx, c := withCall(ctx, d.IdempotencyKey(i))
		posted, err := s.client.PostStatus(callCtx, toot)
		if err != nil {
			return receipt, s.classify(fmt.Sprintf("posting status %d of %d", i+1, len(statuses)), err, c, true)
		}
		if err := record(i, posted.ID, posted.URL); err != nil {
			return receipt, err
		}
		if remaining, reset := c.rateLimit(); remaining == 0 && i < len(statuses)-1 {
			e := &rateLimitError{reset: reset}
			return receipt, channels.RateLimited(fmt.Errorf("posted %d of %d statuses: %w", i+1, len(statuses), e), e.wait(s.now()))
		}
	}
	return receipt, nil
}

// classify wraps err with what was being done and its class for the
// delivery engine.
func (s *Sender) classify(what string, err error, c *call, nonIdempotent bool) error {
	err = fmt.Errorf("%s: %w", what, err)
	var rl *rateLimitError
	if errors.As(err, &rl) {
		return channels.RateLimited(err, rl.wait(s.now()))
	}
	status := 0
	var api *gomastodon.APIError
	var hs *httpStatusError
	switch {
	case errors.As(err, &api):
		status = api.StatusCode
	case errors.As(err, &hs):
		status = hs.StatusCode
	}
	switch {
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status == http.StatusTooEarly:
		return channels.Temporary(err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// The token was revoked, or lacks a scope: someone must connect again.
		return channels.Refused(err)
	case status >= 400 && status < 500:
		return channels.Permanent(err)
	case status >= 500, status > 0 && status < 300:
		// A proxy's 502/504, or a 2xx go-mastodon does not expect, may come
		// after the server created the status: a POST must be checked for
		// before it is sent again.
		if nonIdempotent {
			return channels.Ambiguous(err)
		}
		return channels.Temporary(err)
	case status > 0:
		return channels.Temporary(err)
	}
	var hc *httpcall.Call
	if c != nil {
		hc = c.Call
	}
	return httpcall.Failed(err, hc, nonIdempotent)
}

// recentStatuses returns the account's latest statuses, replies included.
func (s *Sender) recentStatuses(ctx context.Context) ([]*gomastodon.Status, error) {
	s.mu.Lock()
	id := s.accountID
	s.mu.Unlock()
	if id == "" {
		callCtx, c := withCall(ctx, "")
		acct, err := s.client.GetAccountCurrentUser(callCtx)
		if err != nil {
			return nil, s.classify("checking for statuses an earlier attempt posted: verify_credentials", err, c, false)
		}
		id = acct.ID
		s.mu.Lock()
		s.accountID = id
		s.mu.Unlock()
	}
	callCtx, c := withCall(ctx, "")
	list, err := s.client.GetAccountStatuses(callCtx, id, &gomastodon.Pagination{Limit: 40})
	if err != nil {
		return nil, s.classify("checking for statuses an earlier attempt posted", err, c, false)
	}
	return list, nil
}

// findPosted returns the status in recent that is st, or nil: same content
// warning, same reply target, same words and same links.
func findPosted(recent []*gomastodon.Status, st Status, inReplyTo string) *gomastodon.Status {
	want := fingerprintText(st.Status)
	for _, r := range recent {
		if r.Reblog != nil || strings.TrimSpace(r.SpoilerText) != strings.TrimSpace(st.SpoilerText) {
			continue
		}
		if got := fmt.Sprint(r.InReplyToID); inReplyTo != "" && got != inReplyTo || inReplyTo == "" && r.InReplyToID != nil && got != "" {
			continue
		}
		words, links := fingerprintHTML(r.Content)
		if words != want.words || !containsAll(links, want.links) {
			continue
		}
		return r
	}
	return nil
}

// uploadMedia uploads an image with its alt text and waits until the
// instance has processed it (202, then 206 until 200).
func (s *Sender) uploadMedia(ctx context.Context, m *Media) (string, error) {
	data, name, err := s.readImage(ctx, m)
	if err != nil {
		return "", err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", http.DetectContentType(data))
	fw, err := mw.CreatePart(h)
	if err != nil {
		return "", fmt.Errorf("uploading image: %w", err)
	}
	fw.Write(data)
	if m.Description != "" {
		mw.WriteField("description", m.Description)
	}
	mw.Close()

	var att attachment
	code, err := s.api(ctx, http.MethodPost, "/api/v2/media", mw.FormDataContentType(), &body, &att)
	var hs *httpStatusError
	if errors.As(err, &hs) && (hs.StatusCode == http.StatusRequestEntityTooLarge || hs.StatusCode == http.StatusUnsupportedMediaType || hs.StatusCode == http.StatusUnprocessableEntity) {
		// The instance cannot take this picture; the toot can still go.
		return "", &imageLeftOut{what: name, err: fmt.Errorf("the instance refused it: %w", err)}
	}
	if err != nil {
		return "", s.classifyAPI("uploading image", err)
	}
	for code != http.StatusOK || att.URL == "" {
		t := time.NewTimer(s.pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", channels.Temporary(fmt.Errorf("waiting for the instance to process image %s: %w", att.ID, ctx.Err()))
		case <-t.C:
		}
		code, err = s.api(ctx, http.MethodGet, "/api/v1/media/"+url.PathEscape(att.ID), "", nil, &att)
		if err != nil {
			return "", s.classifyAPI("waiting for the instance to process the image", err)
		}
		if code == http.StatusOK && att.URL == "" {
			code = http.StatusPartialContent
		}
	}
	return att.ID, nil
}

func (s *Sender) classifyAPI(what string, err error) error {
	return s.classify(what, err, nil, false)
}

type attachment struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description"`
}

// api makes a request go-mastodon cannot (it treats 206 as an error) and
// decodes a 200, 202 or 206 answer into out.
func (s *Sender) api(ctx context.Context, method, path, contentType string, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.instance+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.client.Config.AccessToken)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusPartialContent:
	default:
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return resp.StatusCode, &httpStatusError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("decoding %s %s answer: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// imageLeftOut is an image the toot goes out without, and why.
type imageLeftOut struct {
	what string
	err  error
}

func (e *imageLeftOut) Error() string {
	return fmt.Sprintf("image left out: %s: %v", e.what, e.err)
}

// readImage reads the image from its file, or fetches it through the
// guarded content client, at most maxImageBytes. Any failure is an
// *imageLeftOut.
func (s *Sender) readImage(ctx context.Context, m *Media) ([]byte, string, error) {
	if m.File != "" {
		data, _, err := channels.ReadImageFile(m.File, maxImageBytes)
		if err != nil {
			return nil, "", &imageLeftOut{what: m.File, err: err}
		}
		return data, filepath.Base(m.File), nil
	}
	res, err := s.content.Image(ctx, m.URL)
	if err != nil {
		return nil, "", &imageLeftOut{what: m.URL, err: unwrapFetch(err)}
	}
	if len(res.Data) > maxImageBytes {
		return nil, "", &imageLeftOut{what: m.URL, err: fmt.Errorf("it is over Mastodon's limit of %d MB", maxImageBytes>>20)}
	}
	return res.Data, res.Name, nil
}

// unwrapFetch drops the "fetching URL:" prefix the note already has.
func unwrapFetch(err error) error {
	var fe *contentfetch.Error
	if errors.As(err, &fe) {
		return fe.Err
	}
	return err
}
