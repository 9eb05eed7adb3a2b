package bluesky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
	"github.com/crierhq/crier/contentfetch"
)

// Sender writes posts to one Bluesky account.
type Sender struct {
	cli     *client
	content *contentfetch.Client // every URL that came from content (a post's image)
	log     *slog.Logger
	now     func() time.Time
}

// New connects for real: it signs in with the handle and app password (a
// failure is logged, and every delivery reports it until it is fixed) and
// returns the formatter and the sender. env.HTTPClient is used for every
// request to the PDS (tests point it at a local one); a post's image is
// fetched only through env's guarded content client.
func New(ctx context.Context, cfg Config, env channels.Env) (channels.Formatter, channels.Sender, error) {
	s, err := newSender(cfg, env)
	if err != nil {
		return nil, nil, err
	}
	if sess, err := s.cli.session(ctx); err != nil {
		s.log.Warn("bluesky: cannot sign in yet; deliveries will retry", "service", s.cli.service, "handle", cfg.Handle, "err", err)
	} else {
		s.log.Info("bluesky: signed in", "service", s.cli.service, "handle", sess.Handle, "did", sess.DID)
	}
	return NewFormatter(cfg, env.Campaign), s, nil
}

func newSender(cfg Config, env channels.Env) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("bluesky config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("bluesky: handle and app_password are needed to send (set their environment variables, or use mode: outbox)")
	}
	_, tracked := httpcall.Client(env.HTTPClient, nil)
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli := &client{service: cfg.ServiceURL(), http: tracked, identifier: strings.TrimPrefix(cfg.Handle, "@"), password: cfg.AppPassword.Reveal()}
	return &Sender{cli: cli, content: env.ContentClient(), log: log, now: time.Now}, nil
}

// written is a record the repository holds.
type written struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

// Send writes the payload's records in order under their derived record
// keys, skipping those the ledger (or the repository itself) shows exist.
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	parts, err := channels.BodyOf[Parts](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	if len(parts) == 0 {
		return channels.Receipt{}, channels.Permanent(errors.New("bluesky payload has no posts"))
	}
	ledger, done, err := channels.LedgerParts(ctx, d)
	if err != nil {
		return channels.Receipt{}, err
	}
	sess, err := s.cli.session(ctx)
	if err != nil {
		return channels.Receipt{}, err
	}
	r := &run{s: s, d: d, did: sess.DID, n: len(parts), ledger: ledger, done: done, refs: map[int]written{}}
	if first, ok := done[0]; ok {
		r.receipt = channels.Receipt{RemoteID: first.RemoteID, RemoteURL: first.RemoteURL}
	}
	for i, part := range parts {
		if _, ok := done[i]; ok {
			continue
		}
		header, err := r.send(ctx, i, part)
		r.receipt.Notes = r.notes
		if err != nil {
			return r.receipt, err
		}
		if rem, rerr := strconv.Atoi(header.Get("Ratelimit-Remaining")); rerr == nil && rem <= 0 && i < len(parts)-1 {
			xe := &xrpcError{Status: http.StatusTooManyRequests, header: header}
			return r.receipt, channels.RateLimited(fmt.Errorf("wrote %d of %d posts; the server's write limit is used up", i+1, len(parts)), xe.wait(s.now()))
		}
	}
	return r.receipt, nil
}

// run is the state of one Send: what the ledger holds and what this attempt
// wrote.
type run struct {
	s       *Sender
	d       channels.Delivery
	did     string
	n       int // parts in the payload
	ledger  channels.Ledger
	done    map[int]channels.Part
	refs    map[int]written // strong references known in this attempt
	receipt channels.Receipt
	notes   []string // what this attempt left out (an image it could not have)
}

// send writes part i unless the repository already holds it, and records it.
// It returns the write's answer headers (nil when nothing was written).
func (r *run) send(ctx context.Context, i int, part Part) (http.Header, error) {
	what := fmt.Sprintf("post %d of %d", i+1, r.n)
	rkey := RecordKey(r.d.PostID, r.d.Channel, i)
	// Every attempt after the first may follow a write whose answer was lost:
	// the derived key says where that record would be.
	if r.d.PreviousUnknown || r.d.Attempt > 1 {
		w, found, err := r.s.getRecord(ctx, r.did, rkey)
		if err != nil {
			return nil, classify("checking for "+what+" from an earlier attempt", err, nil, false)
		}
		if found {
			r.s.log.Info("bluesky: post already written by an earlier attempt", "post", r.d.PostID, "part", i+1, "uri", w.URI)
			return nil, r.record(ctx, i, w)
		}
	}
	rec, err := r.s.complete(ctx, r, part)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	w, header, err := r.s.createRecord(ctx, r.did, rkey, rec)
	if err != nil {
		// The key may already hold the record: the answer was lost, or an
		// earlier attempt's was and this write is refused as a duplicate.
		existing, found, gerr := r.s.getRecord(ctx, r.did, rkey)
		if gerr != nil || !found {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		w = existing
	}
	return header, r.record(ctx, i, w)
}

// record saves part i in the ledger the moment it is known to exist, even
// when the attempt's time is up. A failure is Ambiguous: the post exists but
// the next attempt must look.
func (r *run) record(ctx context.Context, i int, w written) error {
	part := channels.Part{Index: i, RemoteID: w.URI, RemoteURL: webURL(r.did, rkeyOf(w.URI))}
	if err := r.ledger.SavePart(context.WithoutCancel(ctx), part); err != nil {
		return channels.Ambiguous(fmt.Errorf("recording post %d of %d (%s): %w", i+1, r.n, w.URI, err))
	}
	r.done[i], r.refs[i] = part, w
	if i == 0 {
		r.receipt.RemoteID, r.receipt.RemoteURL = part.RemoteID, part.RemoteURL
	}
	return nil
}

// complete fills in what only the sender knows: the time, the reply
// references, the image blob and the resolved mentions.
func (s *Sender) complete(ctx context.Context, r *run, part Part) (Record, error) {
	rec := part.Record
	rec.Type = Collection
	rec.CreatedAt = s.now().UTC().Format("2006-01-02T15:04:05.000Z")
	rec.Facets = append([]Facet(nil), rec.Facets...)
	if part.ReplyToPart > 0 {
		root, err := r.ref(ctx, 0)
		if err != nil {
			return rec, err
		}
		parent, err := r.ref(ctx, part.ReplyToPart-1)
		if err != nil {
			return rec, err
		}
		rec.Reply = &Reply{Root: StrongRef(root), Parent: StrongRef(parent)}
	}
	for _, m := range part.Mentions {
		mdid, err := s.resolveHandle(ctx, m.Handle)
		if err != nil {
			return rec, err
		}
		if mdid == "" {
			s.log.Info("bluesky: mention left as plain text: the handle does not resolve", "handle", m.Handle)
			continue
		}
		rec.Facets = append(rec.Facets, Facet{Index: ByteSlice{m.ByteStart, m.ByteEnd}, Features: []Feature{{Type: FeatureMention, DID: mdid}}})
	}
	sort.SliceStable(rec.Facets, func(i, j int) bool { return rec.Facets[i].Index.ByteStart < rec.Facets[j].Index.ByteStart })
	if part.Image != nil {
		blob, ratio, err := s.uploadImage(ctx, part.Image)
		var left *imageLeftOut
		if errors.As(err, &left) {
			// An image that can't be had never stops a post: it goes
			// out without it, and the delivery's note says why.
			s.log.Warn("bluesky: post goes out without its image", "post", r.d.PostID, "why", left.Error())
			r.notes = append(r.notes, left.Error())
			return rec, nil
		}
		if err != nil {
			return rec, err
		}
		if part.Image.Thumb && rec.Embed != nil && rec.Embed.External != nil {
			ext := *rec.Embed.External
			ext.Thumb = blob
			rec.Embed = &Embed{Type: EmbedExternal, External: &ext}
		} else {
			rec.Embed = &Embed{Type: EmbedImages, Images: []EmbedImage{{Image: blob, Alt: part.Image.Alt, AspectRatio: ratio}}}
		}
	}
	return rec, nil
}

// ref returns the strong reference of part i, asking the repository for its
// CID when an earlier attempt wrote it.
func (r *run) ref(ctx context.Context, i int) (written, error) {
	if w, ok := r.refs[i]; ok {
		return w, nil
	}
	p, ok := r.done[i]
	if !ok {
		return written{}, channels.Permanent(fmt.Errorf("replies to part %d, which was not posted", i+1))
	}
	w, found, err := r.s.getRecord(ctx, r.did, rkeyOf(p.RemoteID))
	if err != nil {
		return written{}, classify("reading the post this one replies to", err, nil, false)
	}
	if !found {
		return written{}, channels.Permanent(fmt.Errorf("the post this one replies to (%s) was deleted", p.RemoteID))
	}
	r.refs[i] = w
	return w, nil
}

// createRecord is com.atproto.repo.createRecord under rkey, validated by the
// server against the lexicon.
func (s *Sender) createRecord(ctx context.Context, did, rkey string, rec Record) (written, http.Header, error) {
	body, err := json.Marshal(map[string]any{"repo": did, "collection": Collection, "rkey": rkey, "validate": true, "record": rec})
	if err != nil {
		return written{}, nil, channels.Permanent(fmt.Errorf("encoding the record: %w", err))
	}
	var w written
	h, call, err := s.cli.call(ctx, request{method: http.MethodPost, nsid: "com.atproto.repo.createRecord", body: body, auth: true}, &w)
	if err != nil {
		return w, h, classify("writing the record", err, call, true)
	}
	return w, h, nil
}

// getRecord reads the post under rkey; found is false when there is none.
func (s *Sender) getRecord(ctx context.Context, did, rkey string) (written, bool, error) {
	q := url.Values{"repo": {did}, "collection": {Collection}, "rkey": {rkey}}
	var w written
	_, _, err := s.cli.call(ctx, request{method: http.MethodGet, nsid: "com.atproto.repo.getRecord", query: q, auth: true}, &w)
	var xe *xrpcError
	if errors.As(err, &xe) && (xe.Name == "RecordNotFound" || xe.Status == http.StatusNotFound) {
		return written{}, false, nil
	}
	if err != nil {
		return written{}, false, err
	}
	return w, true, nil
}

// resolveHandle returns the DID of a handle, or "" when it does not resolve.
func (s *Sender) resolveHandle(ctx context.Context, handle string) (string, error) {
	var out struct {
		DID string `json:"did"`
	}
	_, _, err := s.cli.call(ctx, request{method: http.MethodGet, nsid: "com.atproto.identity.resolveHandle", query: url.Values{"handle": {handle}}, auth: true}, &out)
	var xe *xrpcError
	if errors.As(err, &xe) && xe.Status == http.StatusBadRequest {
		return "", nil
	}
	if err != nil {
		return "", classify("resolving the mention @"+handle, err, nil, false)
	}
	return out.DID, nil
}

// classify wraps err with what was being done and its class for the
// delivery engine.
func classify(what string, err error, call *httpcall.Call, creates bool) error {
	var ce *channels.Error
	if errors.As(err, &ce) {
		return err // sign-in errors come classified
	}
	err = fmt.Errorf("%s: %w", what, err)
	var xe *xrpcError
	if !errors.As(err, &xe) {
		return httpcall.Failed(err, call, creates)
	}
	switch s := xe.Status; {
	case s == http.StatusTooManyRequests:
		return channels.RateLimited(err, xe.wait(time.Now()))
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooEarly:
		return channels.Temporary(err)
	case s >= 400 && s < 500:
		// A lexicon error (400 InvalidRequest) names what is wrong with the
		// record; sending it again cannot help.
		return channels.Permanent(err)
	case s >= 500 && creates:
		return channels.Ambiguous(err)
	}
	return channels.Temporary(err)
}

// rkeyOf is the record key of an at:// URI.
func rkeyOf(uri string) string { return uri[strings.LastIndex(uri, "/")+1:] }

// webURL is where people see a post in Bluesky's web app.
func webURL(did, rkey string) string {
	return "https://bsky.app/profile/" + did + "/post/" + rkey
}
