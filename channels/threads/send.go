package threads

import (
	"context"
	"encoding/json"
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

// SenderOptions are a Sender's test hooks and bounds.
type SenderOptions struct {
	// PollEvery is the wait between two reads of a container's status
	// (0: five seconds); PollFor bounds the whole wait (0: five minutes,
	// the bound Meta recommends in "Troubleshooting"), and so does the
	// attempt's deadline, less a margin for publishing.
	PollEvery, PollFor time.Duration
}

// Sender publishes a payload's chain on the Threads account.
type Sender struct {
	cfg     Config
	api     *graphapi.Client
	content *contentfetch.Client // fetches pictures from content URLs
	images  channels.PublicImages
	// noImages says why pictures cannot be served ("" when they can).
	noImages  string
	log       *slog.Logger
	pollEvery time.Duration
	pollFor   time.Duration
}

// publishMargin is what a container wait leaves of the attempt's time
// for publishing the post and recording it.
const publishMargin = 15 * time.Second

// imageKeep is how long a served picture stays up: Threads fetches it
// while the container is made, and a container expires after 24 hours.
const imageKeep = 25 * time.Hour

// NewSender returns the real sender. env.HTTPClient carries every request;
// nothing is sent until the first Send. When pictures cannot be served
// (no http.public_url, or not public https) the sender still sends text:
// a post's picture is then left out with a note saying why.
func NewSender(cfg Config, env channels.Env, o SenderOptions) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("threads config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("threads: user_id and token are needed to send (set THREADS_USER_ID and THREADS_TOKEN, or use mode: outbox)")
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sender{cfg: cfg, api: cfg.client(env), content: env.ContentClient(), images: env.Images, log: log,
		pollEvery: o.PollEvery, pollFor: o.PollFor}
	if s.pollEvery <= 0 {
		s.pollEvery = 5 * time.Second
	}
	if s.pollFor <= 0 {
		s.pollFor = 5 * time.Minute
	}
	if env.Images == nil {
		s.noImages = "this Crier serves no pictures (set http.public_url to its public https address)"
	} else if err := env.Images.Check(); err != nil {
		s.noImages = err.Error()
	}
	if s.noImages != "" {
		log.Warn("threads: posts go out without their pictures: Threads fetches a picture from a public https address", "channel", cfg.instance(), "reason", s.noImages)
	}
	return s, nil
}

// Send publishes the chain's posts the ledger does not have yet, each a
// reply to the one before, saving each the moment it is published. After
// an attempt whose answer was lost it first reads back the account's
// posts (or the replies of the chain's last saved post) and records its
// own when it finds it; when it cannot read them for good the delivery
// waits for an organiser (channels.Unverifiable).
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	return s.send(ctx, d, p, readBack{first: d.PreviousUnknown})
}

// readBack says which of a chain's missing posts an earlier attempt may
// have published.
type readBack struct {
	// first: the first missing one (a delivery: every post before it was
	// saved); all: every one (a repost, whose ledger lasts one attempt).
	first, all bool
	// not are posts that match but are not this chain's (the old chain
	// a repost replaces, up until the new one is), and since, when set,
	// is the earliest a match may have been posted.
	not   map[string]bool
	since time.Time
	// correction: a read refused for good is the correction's Permanent
	// error, not a delivery's Unverifiable one (its buttons are for
	// deliveries).
	correction bool
}

func (s *Sender) send(ctx context.Context, d channels.Delivery, p channels.Payload, rb readBack) (channels.Receipt, error) {
	chain, err := channels.BodyOf[Chain](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	if len(chain) == 0 {
		return channels.Receipt{}, channels.Permanent(errors.New("the payload has no Threads post"))
	}
	ledger, parts, err := channels.LedgerParts(ctx, d)
	if err != nil {
		return channels.Receipt{}, err
	}
	var notes []string
	receipt := func() channels.Receipt {
		return channels.Receipt{RemoteID: parts[0].RemoteID, RemoteURL: parts[0].RemoteURL, Notes: notes}
	}
	unknown := rb.first || rb.all
	for i, part := range chain {
		if _, ok := parts[i]; ok {
			continue
		}
		parent := ""
		if i > 0 {
			parent = parts[i-1].RemoteID
		}
		var done channels.Part
		found := false
		if unknown {
			// Only the first missing post can be the one whose answer was
			// lost: every one before it was saved.
			unknown = rb.all
			if done, found, err = s.findPosted(ctx, i, part, parent, rb); err != nil {
				return receipt(), s.cannotCheck(err, rb.correction)
			}
		}
		if !found {
			id, err := s.publish(ctx, part, parent, &notes)
			if err != nil {
				return receipt(), fmt.Errorf("post %d of %d: %w", i+1, len(chain), err)
			}
			done = channels.Part{Index: i, RemoteID: id, RemoteURL: s.permalink(ctx, id)}
		}
		if err := ledger.SavePart(ctx, done); err != nil {
			// Published but not recorded: the next attempt reads it back.
			return receipt(), channels.Ambiguous(fmt.Errorf("recording post %d (%s): %w", i+1, done.RemoteID, err))
		}
		parts[i] = done
	}
	return receipt(), nil
}

// publish makes the part's media container, waits until Threads has it
// ready, and publishes it, returning the post's media id.
func (s *Sender) publish(ctx context.Context, part Part, parent string, notes *[]string) (string, error) {
	params, err := s.containerParams(ctx, part, parent, notes)
	if err != nil {
		return "", err
	}
	var container struct {
		ID string `json:"id"`
	}
	what := "making the Threads post's container"
	if err := s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: s.cfg.UserID + "/threads", Params: params, What: what}, &container); err != nil {
		return "", err
	}
	if container.ID == "" {
		return "", channels.Temporary(fmt.Errorf("%s: Threads' answer has no container id", what))
	}
	if err := s.waitReady(ctx, container.ID, params.Get("media_type") == "IMAGE"); err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	err = s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: s.cfg.UserID + "/threads_publish", Params: url.Values{"creation_id": {container.ID}},
		Creates: true, What: "publishing the Threads post"}, &out)
	if k, _ := channels.Classify(err); k == channels.KindRateLimited {
		return "", s.quotaUsedUp(ctx, params.Get("reply_to_id") != "", err)
	}
	if err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", channels.Ambiguous(errors.New("publishing the Threads post: Threads' answer has no media id"))
	}
	return out.ID, nil
}

// containerParams are the part's container parameters. A picture that
// cannot be had or served is left out with a note: the post goes out as
// text.
func (s *Sender) containerParams(ctx context.Context, part Part, parent string, notes *[]string) (url.Values, error) {
	params := url.Values{"media_type": {"TEXT"}, "text": {part.Text}}
	if parent != "" {
		params.Set("reply_to_id", parent)
	}
	if part.TopicTag != "" {
		params.Set("topic_tag", part.TopicTag)
	}
	if part.Spoiler != nil {
		entities, _ := json.Marshal([]map[string]any{{"entity_type": "SPOILER", "offset": part.Spoiler.Offset, "length": part.Spoiler.Length}})
		params.Set("text_entities", string(entities))
	}
	if part.Link != "" {
		params.Set("link_attachment", part.Link)
	}
	if part.Image == nil {
		return params, nil
	}
	addr, err := s.serveImage(ctx, part.Image)
	if err != nil {
		if k, _ := channels.Classify(err); k != channels.KindPermanent {
			return nil, err
		}
		if part.Text == "" {
			return nil, channels.Permanent(fmt.Errorf("the post is only a picture, and %v", err))
		}
		*notes = append(*notes, fmt.Sprintf("picture left out: %s: %v", imageRef(part.Image), err))
		s.log.Warn("threads: posting without the picture", "channel", s.cfg.instance(), "reason", err)
		return params, nil
	}
	params.Set("media_type", "IMAGE")
	params.Set("image_url", addr)
	if part.Image.Alt != "" {
		params.Set("alt_text", part.Image.Alt)
	}
	if part.Image.Spoiler {
		params.Set("is_spoiler_media", "true")
	}
	return params, nil
}

// waitReady reads the container's status until it is FINISHED, at most
// pollFor and never past the attempt's deadline less publishMargin: Threads prepares a container (fetching its picture) before it
// may be published ("Troubleshooting": status and error_message).
func (s *Sender) waitReady(ctx context.Context, id string, picture bool) error {
	bound := s.pollFor
	if d, ok := ctx.Deadline(); ok && time.Until(d)-publishMargin < bound {
		// The attempt ends sooner (delivery.timeout): stop waiting while
		// there is time left to publish and record the post.
		bound = max(time.Until(d)-publishMargin, 0)
	}
	deadline := time.Now().Add(bound)
	for {
		var c struct {
			Status       string `json:"status"`
			ErrorMessage string `json:"error_message"`
		}
		if err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: id, Params: url.Values{"fields": {"status,error_message"}}, What: "reading the container's status"}, &c); err != nil {
			return err
		}
		switch c.Status {
		case "FINISHED":
			return nil // ready to publish
		case "IN_PROGRESS":
			// Threads is still preparing it (fetching the picture): wait.
		case "ERROR":
			// Threads could not prepare it; the same container never will.
			return channels.Permanent(fmt.Errorf("Threads could not prepare the post (%s)%s", orUnknown(c.ErrorMessage), errorHint(c.ErrorMessage, picture)))
		case "EXPIRED":
			// Not published within 24 hours: a new attempt makes a new one.
			return channels.Temporary(errors.New("the Threads container expired before it was published; the next attempt makes a new one"))
		case "PUBLISHED":
			// Only a publish makes it so, and this sender has not asked:
			// something else did. Read back before posting again.
			return channels.Ambiguous(errors.New("the Threads container is already published"))
		default:
			return channels.Temporary(fmt.Errorf("Threads answered an unknown container status %q", c.Status))
		}
		if !time.Now().Add(s.pollEvery).Before(deadline) {
			// Nothing was published: the next attempt makes a new container.
			return channels.Temporary(fmt.Errorf("Threads had not prepared the post after %s; trying again later", bound.Round(time.Second)))
		}
		select {
		case <-ctx.Done():
			return channels.Temporary(fmt.Errorf("waiting for Threads to prepare the post: %w", ctx.Err()))
		case <-time.After(s.pollEvery):
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// errorHint says what to do about a container's error_message. Threads
// documents no message for a picture it could not fetch (UNKNOWN is its
// catch-all), so any error of a picture's container names the likely fix.
func errorHint(msg string, picture bool) string {
	if picture || strings.Contains(strings.ToUpper(msg), "DOWNLOAD") {
		return ": Threads could not fetch the picture from Crier; check that http.public_url is reachable from the internet"
	}
	return ""
}

// serveImage reads the picture and serves it at a public address for
// Threads to fetch. A picture that cannot be had or served is a
// Permanent error, and the post goes out without it.
func (s *Sender) serveImage(ctx context.Context, img *Image) (string, error) {
	if s.noImages != "" {
		return "", channels.Permanent(errors.New(s.noImages))
	}
	data, ct, err := channels.ReadImage(ctx, s.content, img.File, img.URL, MaxImage, "Threads")
	if err != nil {
		return "", channels.Permanent(err)
	}
	if data, ct, err = asJPEGOrPNG(data, ct); err != nil {
		return "", channels.Permanent(err)
	}
	return s.images.Publish(ctx, data, ct, imageKeep)
}

func imageRef(img *Image) string {
	if img.File != "" {
		return img.File
	}
	return img.URL
}

// permalink is a published post's address on Threads, "" when Threads
// does not say (the post is recorded without it rather than risk a second
// post).
func (s *Sender) permalink(ctx context.Context, id string) string {
	var m struct {
		Permalink string `json:"permalink"`
	}
	if err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: id, Params: url.Values{"fields": {"permalink"}}, What: "reading the post's address"}, &m); err != nil {
		s.log.Warn("threads: the post's address is not known", "remote_id", id, "error", err)
	}
	return m.Permalink
}

// media is the part of a Threads media object the sender reads back.
type media struct {
	ID        string `json:"id"`
	Text      string `json:"text"`
	Permalink string `json:"permalink"`
	Timestamp string `json:"timestamp"`
	Link      string `json:"link_attachment_url"`
}

// findPosted reads back the account's newest posts (the first post) or
// the replies to the chain's last saved post (a reply) for one with the
// part's text and link, other than those in not: an earlier attempt's
// whose answer was lost. A rate
// limit or a passing failure is retried as such; a read refused for good
// cannot tell, and the delivery waits for an organiser.
func (s *Sender) findPosted(ctx context.Context, i int, part Part, parent string, rb readBack) (channels.Part, bool, error) {
	call := graphapi.Call{Method: http.MethodGet, Path: s.cfg.UserID + "/threads",
		Params: url.Values{"fields": {"id,text,permalink,timestamp,link_attachment_url"}, "limit": {strconv.Itoa(recentPosts)}},
		What:   "checking the account for the post an earlier attempt may have made"}
	if parent != "" {
		call.Path = parent + "/replies"
		call.Params = url.Values{"fields": {"id,text,permalink,timestamp,link_attachment_url"}}
		call.What = "checking the chain for the reply an earlier attempt may have made"
	}
	var list struct {
		Data []media `json:"data"`
	}
	if err := s.api.Do(ctx, call, &list); err != nil {
		return channels.Part{}, false, err
	}
	want := fingerprint(part.Text)
	for _, m := range list.Data {
		if rb.not[m.ID] || fingerprint(m.Text) != want || (part.Link != "" && m.Link != "" && m.Link != part.Link) {
			continue
		}
		if at, err := time.Parse(timestampLayout, m.Timestamp); err == nil && at.Before(rb.since) {
			continue // older than what it is looking for: another one's
		}
		s.log.Info("threads: found the post an earlier attempt made", "remote_id", m.ID, "part", i+1)
		return channels.Part{Index: i, RemoteID: m.ID, RemoteURL: m.Permalink}, true, nil
	}
	return channels.Part{}, false, nil
}

// timestampLayout is how Threads writes a post's timestamp.
const timestampLayout = "2006-01-02T15:04:05-0700"

// cannotCheck is a read-back refused for good: a delivery waits for an
// organiser (channels.Unverifiable); a correction fails, saying why.
func (s *Sender) cannotCheck(err error, correction bool) error {
	if k, _ := channels.Classify(err); k != channels.KindPermanent {
		return err
	}
	if !correction {
		return channels.Unverifiable(fmt.Errorf("unknown: check the Threads account: an earlier attempt may have posted this, and %v: look at the account, then press It went out or Send again on the post's page", err))
	}
	if graphapi.CodeOf(err) == 10 {
		return channels.Permanent(fmt.Errorf("%w: checking whether an earlier attempt posted the correction needs the threads_read_replies permission: make a new token granting it (docs/meta.md), then look at the post on Threads before correcting it again", err))
	}
	return channels.Permanent(fmt.Errorf("an earlier attempt may have posted the correction, and %w: look at the post on Threads before correcting it again", err))
}

// fingerprint is a text as compared with what Threads shows back: its
// words, white space collapsed.
func fingerprint(s string) string { return strings.Join(strings.Fields(s), " ") }

// quotaWait is how long a delivery waits once the account's daily
// publishing quota is used up: the window moves, so an hour frees some.
const quotaWait = time.Hour

// quotaUsedUp reads the account's publishing quota after a refused
// publish (GET /{user-id}/threads_publishing_limit, docs/threads/overview):
// when the 250 posts or 1,000 replies of the last 24 hours are used up it
// says so and waits an hour; otherwise the refusal stands as it was.
func (s *Sender) quotaUsedUp(ctx context.Context, reply bool, refused error) error {
	var ans struct {
		Data []struct {
			Usage  int `json:"quota_usage"`
			Config struct {
				Total int `json:"quota_total"`
			} `json:"config"`
			ReplyUsage  int `json:"reply_quota_usage"`
			ReplyConfig struct {
				Total int `json:"quota_total"`
			} `json:"reply_config"`
		} `json:"data"`
	}
	fields := "quota_usage,config"
	if reply {
		fields = "reply_quota_usage,reply_config"
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: s.cfg.UserID + "/threads_publishing_limit", Params: url.Values{"fields": {fields}}, What: "reading the account's publishing quota"}, &ans)
	if err != nil || len(ans.Data) == 0 {
		return refused
	}
	q := ans.Data[0]
	used, total, what := q.Usage, q.Config.Total, "posts"
	if reply {
		used, total, what = q.ReplyUsage, q.ReplyConfig.Total, "replies"
	}
	if total == 0 || used < total {
		return refused
	}
	return channels.RateLimited(fmt.Errorf("Threads allows %d %s a day and this account has published %d in the last 24 hours; trying again in an hour (%w)", total, what, used, refused), quotaWait)
}
