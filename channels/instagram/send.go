package instagram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/contentfetch"
)

// Sender publishes a payload's photo post on the account.
type Sender struct {
	cfg     Config
	api     *graphapi.Client
	content *contentfetch.Client // fetches pictures from content URLs
	images  channels.PublicImages
	opts    Options
	log     *slog.Logger
}

// NewSender returns the real sender. It refuses to connect when Crier
// cannot serve pictures at a public https address (env.Images), since
// Instagram takes no upload: it fetches every picture itself.
func NewSender(cfg Config, env channels.Env, opts Options) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("instagram config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("instagram: user_id and page_token are needed to send (set INSTAGRAM_USER_ID and FACEBOOK_PAGE_TOKEN, or use mode: outbox)")
	}
	if env.Images == nil {
		return nil, errors.New("instagram: Instagram fetches every picture from a public https address, and this daemon serves none: set http.public_url (docs/meta.md, \"Instagram\")")
	}
	if err := env.Images.Check(); err != nil {
		return nil, fmt.Errorf("instagram: Instagram fetches every picture from Crier's public address, and it cannot: %w", err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, api: cfg.client(env), content: env.ContentClient(), images: env.Images, opts: opts.withDefaults(), log: log}, nil
}

// containerPrefix marks a ledger part that records a media container, not
// a published post: the container is recorded before it is published and
// replaced by the post once Instagram names it. The part is
// "container:<id>@<unix seconds it was made>"; parts written before the
// time was kept are "container:<id>".
const containerPrefix = "container:"

// clockSkew is how far Crier's clock may be ahead of Instagram's when a
// post's timestamp is compared with its container's making.
const clockSkew = 5 * time.Minute

// container is a media container a ledger part records.
type container struct {
	id      string
	created time.Time // zero in a part written before it was kept
}

func (c container) part() string {
	return containerPrefix + c.id + "@" + strconv.FormatInt(c.created.Unix(), 10)
}

// parseContainer reads a ledger part's container, false when the part is
// a published post.
func parseContainer(remoteID string) (container, bool) {
	rest, ok := strings.CutPrefix(remoteID, containerPrefix)
	if !ok {
		return container{}, false
	}
	id, at, hasAt := strings.Cut(rest, "@")
	c := container{id: id}
	if sec, err := strconv.ParseInt(at, 10, 64); hasAt && err == nil {
		c.created = time.Unix(sec, 0)
	}
	return c, true
}

// Send publishes the post unless the ledger has it.
//
// Exactly once: media_publish takes no idempotency key, so the container
// stands in for one. Its id is in the ledger before it is published, and
// a later attempt asks it what became of it (resume) rather than making
// another: PUBLISHED means the post is out (its id is read back from the
// account's recent media), FINISHED or IN_PROGRESS that it is not yet.
// Instagram keeps an unpublished container for 24 hours, then calls it
// EXPIRED: one that expired was never published, so a new container is
// safe. An attempt that recorded no container published nothing, since
// publishing waits for the record: an unrecorded container is never
// published, and expires.
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	body, err := channels.BodyOf[Post](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	ledger, parts, err := channels.LedgerParts(ctx, d)
	if err != nil {
		return channels.Receipt{}, err
	}
	if part, ok := parts[0]; ok {
		c, isContainer := parseContainer(part.RemoteID)
		if !isContainer {
			return channels.Receipt{RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}, nil
		}
		r, done, err := s.resume(ctx, d, ledger, body, c)
		if done || err != nil {
			return r, err
		}
	}
	c, notes, err := s.createContainer(ctx, ledger, body)
	if err != nil {
		return channels.Receipt{Notes: notes}, err
	}
	r, err := s.waitAndPublish(ctx, ledger, body, c)
	r.Notes = append(notes, r.Notes...)
	return r, err
}

// resume acts on the container an earlier attempt recorded; done is false
// when a new container is to be made.
//
// Without an unknown outcome before this attempt (d.PreviousUnknown false)
// the container was never put through media_publish: a publish whose
// answer is lost, or whose post is not recorded, is Ambiguous, which the
// bot remembers. So a container Instagram no longer knows, or will not
// show, was never published, and a new one is made; that is also how
// Send again posts after an unknown outcome.
func (s *Sender) resume(ctx context.Context, d channels.Delivery, ledger channels.Ledger, b Post, c container) (channels.Receipt, bool, error) {
	id := c.id
	status, _, err := s.status(ctx, id)
	switch {
	case err != nil && !d.PreviousUnknown && (gone(err) || isPermanent(err)) && !channels.IsRefused(err):
		s.log.Info("instagram: the earlier container was never published and cannot be read; making a new one", "container", id)
		return channels.Receipt{}, false, nil
	case gone(err):
		// Instagram no longer knows it (older than its keeping): the
		// account's recent media say whether it went out.
		return s.lookBack(ctx, ledger, b, c, false)
	case channels.IsRefused(err):
		// A revoked token reads nothing: reconnecting comes first, and the
		// container is still in the ledger for the attempt after.
		return channels.Receipt{}, true, err
	case err != nil && isPermanent(err):
		// The container cannot be read: the account's media may tell.
		return s.lookBack(ctx, ledger, b, c, true)
	case err != nil:
		return channels.Receipt{}, true, err
	case status == statusPublished && !d.PreviousUnknown:
		// Out, yet the delivery is sent again without an unknown outcome
		// before it: an organiser found it missing and pressed Send
		// again. Their word is a new post.
		s.log.Info("instagram: the earlier container was published; posting anew as asked", "container", id)
		return channels.Receipt{}, false, nil
	case status == statusPublished:
		return s.published(ctx, ledger, b, c)
	case status == statusExpired || status == statusError:
		// Never published, and no longer publishable: a new container
		// (this attempt's own ERROR is reported by waitAndPublish).
		s.log.Info("instagram: the earlier container cannot be published; making a new one", "container", id, "status", status)
		return channels.Receipt{}, false, nil
	}
	r, err := s.waitAndPublish(ctx, ledger, b, c)
	return r, true, err
}

// published records a container Instagram says it published: the post is
// found among the account's recent media by its caption and a time at or
// after the container's making; when it is not there (deleted, or pushed
// out by 25 newer posts) it went out all the same, and is recorded without
// an address.
func (s *Sender) published(ctx context.Context, ledger channels.Ledger, b Post, c container) (channels.Receipt, bool, error) {
	part, found, err := s.findPosted(ctx, b, c.created)
	if err != nil && !isPermanent(err) {
		return channels.Receipt{}, true, err
	}
	if !found {
		note := "Instagram says it published this post, but Crier could not find it among the account's newest posts (was it deleted?): look at the account"
		r, err := s.record(ctx, ledger, channels.Part{Index: 0, RemoteID: "", RemoteURL: ""}, []string{note})
		return r, true, err
	}
	r, err := s.record(ctx, ledger, part, nil)
	return r, true, err
}

// lookBack reads the account's recent media for the post when its
// container cannot say; strict makes "not found" unknown rather than "not
// posted" (the container may still be publishable). Only a post made
// after the container counts (a weekly announcement's caption repeats);
// a container recorded without its time cannot tell, and is unknown.
func (s *Sender) lookBack(ctx context.Context, ledger channels.Ledger, b Post, c container, strict bool) (channels.Receipt, bool, error) {
	part, found, err := s.findPosted(ctx, b, c.created)
	switch {
	case err != nil && isPermanent(err):
		return channels.Receipt{}, true, channels.Unverifiable(fmt.Errorf("unknown: check the Instagram account: an earlier attempt may have posted this, and %v: look at the account, then press It went out or Send again on the post's page", err))
	case err != nil:
		return channels.Receipt{}, true, err
	case found && c.created.IsZero():
		return channels.Receipt{}, true, channels.Unverifiable(errors.New("unknown: check the Instagram account: a post with this caption is among the account's newest, and Crier cannot tell whether an earlier attempt made it or it is an older one: look at the account, then press It went out or Send again on the post's page"))
	case found:
		r, err := s.record(ctx, ledger, part, nil)
		return r, true, err
	case strict:
		return channels.Receipt{}, true, channels.Unverifiable(errors.New("unknown: check the Instagram account: Instagram would not say what became of an earlier attempt's post, and it is not among the account's newest posts: look at the account, then press It went out or Send again on the post's page"))
	}
	return channels.Receipt{}, false, nil
}

func (s *Sender) record(ctx context.Context, ledger channels.Ledger, part channels.Part, notes []string) (channels.Receipt, error) {
	r := channels.Receipt{RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Notes: notes}
	if err := ledger.SavePart(ctx, part); err != nil {
		// Posted but not recorded: the ledger still names the container,
		// which the next attempt asks.
		return r, channels.Ambiguous(fmt.Errorf("recording post %s: %w", part.RemoteID, err))
	}
	return r, nil
}

// createContainer serves the picture, makes the container and records it.
// Nothing is published yet, so its failures are not ambiguous: a
// container whose answer was lost is never published, and expires.
func (s *Sender) createContainer(ctx context.Context, ledger channels.Ledger, b Post) (container, []string, error) {
	imageURL, alt, notes, err := s.publicImage(ctx, b.Image)
	if err != nil {
		return container{}, notes, err
	}
	// Its time is taken before it exists: its post is at or after it.
	created := time.Now()
	params := url.Values{"image_url": {imageURL}, "caption": {b.Caption}}
	if alt != "" {
		params.Set("alt_text", alt)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: s.cfg.UserID + "/media", Params: params, What: "making the Instagram post's container"}, &out); err != nil {
		return container{}, notes, imageRefusal(err)
	}
	if out.ID == "" {
		return container{}, notes, channels.Temporary(errors.New("making the Instagram post's container: Instagram's answer has no id"))
	}
	c := container{id: out.ID, created: created}
	if err := ledger.SavePart(ctx, channels.Part{Index: 0, RemoteID: c.part()}); err != nil {
		return container{}, notes, channels.Temporary(fmt.Errorf("recording container %s before publishing it: %w", out.ID, err))
	}
	return c, notes, nil
}

// Container statuses (status_code).
const (
	statusInProgress = "IN_PROGRESS"
	statusFinished   = "FINISHED"
	statusError      = "ERROR"
	statusExpired    = "EXPIRED"
	statusPublished  = "PUBLISHED"
)

// status reads a container's status_code and, for an ERROR, Instagram's
// reason.
func (s *Sender) status(ctx context.Context, id string) (string, string, error) {
	var c struct {
		Code   string `json:"status_code"`
		Status string `json:"status"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: id, Params: url.Values{"fields": {"status_code,status"}}, What: "asking Instagram whether the post's picture is ready"}, &c)
	return c.Code, c.Status, err
}

// waitAndPublish waits, a bounded number of looks, for the container to
// be FINISHED, then publishes it: the one switch says what each status
// means.
func (s *Sender) waitAndPublish(ctx context.Context, ledger channels.Ledger, b Post, c container) (channels.Receipt, error) {
	id := c.id
	for look := 1; ; look++ {
		status, reason, err := s.status(ctx, id)
		if err != nil {
			return channels.Receipt{}, err
		}
		switch status {
		case statusFinished:
			return s.publish(ctx, ledger, id)
		case statusPublished:
			// Only an earlier attempt can have published it.
			r, _, err := s.published(ctx, ledger, b, c)
			return r, err
		case statusError:
			return channels.Receipt{}, channels.Permanent(fmt.Errorf("Instagram could not use the post's picture (%s): check it is a JPEG or PNG of at most 8 MB, between 4:5 and 1.91:1, then publish the post again", reasonOr(reason, "no reason given")))
		case statusExpired:
			return channels.Receipt{}, channels.Temporary(fmt.Errorf("the post's container expired before it was published (Instagram keeps one 24 hours): the next attempt makes a new one"))
		case statusInProgress, "":
		default:
			return channels.Receipt{}, channels.Temporary(fmt.Errorf("Instagram answered an unknown container status %q; trying again later", status))
		}
		if look >= s.opts.Polls {
			// Meta suggests a look a minute for up to five; a photo is
			// ready in seconds, so Crier looks more often but bounds one
			// attempt, and the next attempt goes on with this container.
			return channels.Receipt{}, channels.Temporary(fmt.Errorf("Instagram is still preparing the post's picture after %d looks; the next attempt goes on with the same container", look))
		}
		select {
		case <-ctx.Done():
			return channels.Receipt{}, channels.Temporary(fmt.Errorf("waiting for Instagram to prepare the post's picture: %w", ctx.Err()))
		case <-time.After(s.opts.PollEvery):
		}
	}
}

func reasonOr(s, alt string) string {
	if strings.TrimSpace(s) == "" {
		return alt
	}
	return s
}

// publish publishes a FINISHED container and records the post.
func (s *Sender) publish(ctx context.Context, ledger channels.Ledger, id string) (channels.Receipt, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: s.cfg.UserID + "/media_publish", Params: url.Values{"creation_id": {id}}, Creates: true, What: "publishing the Instagram post"}, &out)
	if err != nil {
		return channels.Receipt{}, publishRefusal(err)
	}
	if out.ID == "" {
		return channels.Receipt{}, channels.Ambiguous(errors.New("publishing the Instagram post: Instagram's answer has no id"))
	}
	var m struct {
		Permalink string `json:"permalink"`
	}
	if err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: out.ID, Params: url.Values{"fields": {"permalink"}}, What: "reading the post's address"}, &m); err != nil {
		s.log.Info("instagram: the post's address could not be read", "remote_id", out.ID, "err", err)
	}
	return s.record(ctx, ledger, channels.Part{Index: 0, RemoteID: out.ID, RemoteURL: m.Permalink}, nil)
}

// Instagram's own error subcodes the sender acts on.
const (
	subcodeNotReady     = 2207027 // the container is not ready to publish
	subcodeExpired      = 2207020 // the container expired
	subcodePublishLimit = 2207042 // the account's posts through the API in 24 hours
	subcodeFetchFailed  = 2207052 // image_url could not be fetched
)

// publishRefusal reclassifies media_publish's refusals Instagram
// documents: a container not ready or expired is retried (the next
// attempt asks the container), and the daily publishing limit waits.
func publishRefusal(err error) error {
	var e *graphapi.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Subcode {
	case subcodeNotReady, subcodeExpired:
		return channels.Temporary(fmt.Errorf("publishing the Instagram post: %w; the next attempt asks the container again", e))
	case subcodePublishLimit:
		return channels.RateLimited(fmt.Errorf("publishing the Instagram post: the account has published as many posts through the API as Instagram allows in 24 hours (%w); trying again in an hour", e), time.Hour)
	}
	return err
}

// imageRefusal says what to do when Instagram cannot fetch the picture.
func imageRefusal(err error) error {
	var e *graphapi.Error
	if errors.As(err, &e) && e.Subcode == subcodeFetchFailed {
		return channels.Permanent(fmt.Errorf("Instagram could not fetch the post's picture from Crier's public address (%w): check that http.public_url is reachable from the internet over https", e))
	}
	return err
}

func isPermanent(err error) bool {
	k, _ := channels.Classify(err)
	return k == channels.KindPermanent
}

// media is the part of an IG Media the sender reads back.
type media struct {
	ID        string `json:"id"`
	Caption   string `json:"caption"`
	Permalink string `json:"permalink"`
	Timestamp string `json:"timestamp"`
}

// after reports whether the post was published at or after t (less the
// clocks' skew); a zero t accepts any, an unreadable timestamp none.
func (m media) after(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	at, err := time.Parse("2006-01-02T15:04:05-0700", m.Timestamp)
	if err != nil {
		if at, err = time.Parse(time.RFC3339, m.Timestamp); err != nil {
			return false
		}
	}
	return !at.Before(t.Add(-clockSkew))
}

// findPosted reads the account's newest posts for one with the payload's
// caption published at or after since (an earlier attempt's whose answer
// was lost, not last week's with the same caption).
func (s *Sender) findPosted(ctx context.Context, b Post, since time.Time) (channels.Part, bool, error) {
	var list struct {
		Data []media `json:"data"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: s.cfg.UserID + "/media",
		Params: url.Values{"fields": {"id,caption,permalink,timestamp"}, "limit": {strconv.Itoa(recentMedia)}},
		What:   "checking the Instagram account for the post an earlier attempt may have made"}, &list)
	if err != nil {
		return channels.Part{}, false, err
	}
	want := fingerprint(b.Caption)
	for _, m := range list.Data {
		if want != "" && fingerprint(m.Caption) == want && m.after(since) {
			s.log.Info("instagram: found the post an earlier attempt made", "remote_id", m.ID)
			return channels.Part{Index: 0, RemoteID: m.ID, RemoteURL: m.Permalink}, true, nil
		}
	}
	return channels.Part{}, false, nil
}

// fingerprint is a caption as compared with what Instagram shows back: its
// words, white space collapsed.
func fingerprint(s string) string { return strings.Join(strings.Fields(s), " ") }

// gone reports Meta's answer to an id that does not exist (any more):
// code 100, subcode 33.
func gone(err error) bool {
	var e *graphapi.Error
	return errors.As(err, &e) && e.Code == 100 && e.Subcode == 33
}
