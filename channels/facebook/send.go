package facebook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/contentfetch"
)

// Sender publishes a payload's post on the Page.
type Sender struct {
	cfg     Config
	api     *graphapi.Client
	content *contentfetch.Client // fetches photos from content URLs
	log     *slog.Logger
}

// NewSender returns the real sender. env.HTTPClient carries every
// request; nothing is sent until the first Send.
func NewSender(cfg Config, env channels.Env) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("facebook config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("facebook: page_id and page_token are needed to send (set FACEBOOK_PAGE_ID and FACEBOOK_PAGE_TOKEN, or use mode: outbox)")
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, api: cfg.client(env), content: env.ContentClient(), log: log}, nil
}

// Send publishes the post unless the ledger has it. After an attempt
// whose answer was lost it first reads back the Page's recent posts and
// records its own when it finds it; when it cannot read them for good the
// delivery waits for an organiser (channels.Unverifiable).
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
		return channels.Receipt{RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}, nil
	}
	if d.PreviousUnknown {
		part, found, err := s.findPosted(ctx, body)
		if err != nil {
			return channels.Receipt{}, err
		}
		if found {
			return s.record(ctx, ledger, part, nil)
		}
	}
	id, notes, err := s.publish(ctx, d, body)
	if err != nil {
		return channels.Receipt{Notes: notes}, err
	}
	return s.record(ctx, ledger, channels.Part{Index: 0, RemoteID: id, RemoteURL: postURL(id)}, notes)
}

func (s *Sender) record(ctx context.Context, ledger channels.Ledger, part channels.Part, notes []string) (channels.Receipt, error) {
	r := channels.Receipt{RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Notes: notes}
	if err := ledger.SavePart(ctx, part); err != nil {
		// Posted but not recorded: the next attempt reads it back.
		return r, channels.Ambiguous(fmt.Errorf("recording post %s: %w", part.RemoteID, err))
	}
	return r, nil
}

// publish makes the feed or photo post and returns the post's id. A photo
// that cannot be had is left out with a note: the text goes out as a
// feed post.
func (s *Sender) publish(ctx context.Context, d channels.Delivery, b Post) (string, []string, error) {
	var notes []string
	if b.Photo != nil {
		data, ct, err := s.readPhoto(ctx, b.Photo)
		if err == nil {
			params := url.Values{"message": {b.Message}}
			if b.Photo.Alt != "" {
				params.Set("alt_text_custom", b.Photo.Alt)
			}
			var out struct {
				ID     string `json:"id"`
				PostID string `json:"post_id"`
			}
			err := s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: s.cfg.PageID + "/photos", Params: params, Creates: true,
				Upload: &graphapi.Upload{Field: "source", Name: channels.UploadName(photoRef(b.Photo), ct), Data: data}, What: "posting the photo to the Page"}, &out)
			if err != nil {
				return "", notes, err
			}
			if out.PostID == "" {
				return "", notes, channels.Ambiguous(errors.New("posting the photo to the Page: Facebook's answer has no post_id"))
			}
			return out.PostID, notes, nil
		}
		note := fmt.Sprintf("photo left out: %s: %v", photoRef(b.Photo), err)
		s.log.Warn("facebook: posting without the photo", "post", d.PostID, "reason", note)
		notes = append(notes, note)
	}
	params := url.Values{"message": {b.Message}}
	if b.Link != "" {
		params.Set("link", b.Link)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: s.cfg.PageID + "/feed", Params: params, Creates: true, What: "posting to the Page"}, &out); err != nil {
		return "", notes, err
	}
	if out.ID == "" {
		return "", notes, channels.Ambiguous(errors.New("posting to the Page: Facebook's answer has no id"))
	}
	return out.ID, notes, nil
}

// pagePost is the part of a PagePost the sender reads back.
type pagePost struct {
	ID          string `json:"id"`
	Message     string `json:"message"`
	Permalink   string `json:"permalink_url"`
	Attachments struct {
		Data []struct {
			UnshimmedURL string `json:"unshimmed_url"`
			URL          string `json:"url"`
		} `json:"data"`
	} `json:"attachments"`
}

// findPosted reads the Page's newest posts for one with the payload's
// text and link (an earlier attempt's whose answer was lost). A rate
// limit or a passing failure is retried as such; a read refused for good
// cannot tell, and the delivery waits for an organiser.
func (s *Sender) findPosted(ctx context.Context, b Post) (channels.Part, bool, error) {
	var list struct {
		Data []pagePost `json:"data"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: s.cfg.PageID + "/published_posts",
		Params: url.Values{"fields": {"id,message,permalink_url,attachments{unshimmed_url,url}"}, "limit": {strconv.Itoa(recentPosts)}},
		What:   "checking the Page for the post an earlier attempt may have made"}, &list)
	if err != nil {
		if k, _ := channels.Classify(err); k == channels.KindPermanent {
			return channels.Part{}, false, channels.Unverifiable(fmt.Errorf("unknown: check the Page: an earlier attempt may have posted this, and %v: look at the Page, then press It went out or Send again on the post's page", err))
		}
		return channels.Part{}, false, err
	}
	want := fingerprint(b.Message)
	for _, p := range list.Data {
		if fingerprint(p.Message) != want || !hasLink(p, b.Link) {
			continue
		}
		url := p.Permalink
		if url == "" {
			url = postURL(p.ID)
		}
		s.log.Info("facebook: found the post an earlier attempt made", "remote_id", p.ID)
		return channels.Part{Index: 0, RemoteID: p.ID, RemoteURL: url}, true, nil
	}
	return channels.Part{}, false, nil
}

// fingerprint is a text as compared with what Facebook shows back: its
// words, white space collapsed (Facebook trims and may change line ends).
func fingerprint(s string) string { return strings.Join(strings.Fields(s), " ") }

// hasLink reports whether p carries link as its attachment ("": none needed).
func hasLink(p pagePost, link string) bool {
	if link == "" {
		return true
	}
	for _, a := range p.Attachments.Data {
		if a.UnshimmedURL == link || a.URL == link {
			return true
		}
	}
	return false
}

// readPhoto reads a photo, at most maxPhoto bytes.
func (s *Sender) readPhoto(ctx context.Context, ph *Photo) ([]byte, string, error) {
	return channels.ReadImage(ctx, s.content, ph.File, ph.URL, maxPhoto, "Facebook")
}

func photoRef(ph *Photo) string {
	if ph.File != "" {
		return ph.File
	}
	return ph.URL
}

// postURL is a post's address on Facebook: PAGE_POST ids open as
// facebook.com/PAGE/posts/POST.
func postURL(id string) string {
	page, post, ok := strings.Cut(id, "_")
	if !ok {
		return "https://www.facebook.com/" + id
	}
	return "https://www.facebook.com/" + page + "/posts/" + post
}
