package instagram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi/graphapitest"
	"github.com/crierhq/crier/channels/instagram"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/post"
)

// setup is a fake account and image server, and a sender and formatter
// connected to them.
type setup struct {
	fake   *graphapitest.Fake
	images *graphapitest.Images
	cfg    instagram.Config
	f      *instagram.Formatter
	s      *instagram.Sender
}

var campaign = channels.Campaign{Name: "CAMACA", Colours: config.Colours{Background: "#123456", Text: "#ffffff", Accent: "#ff8800"}}

func newSetup(t *testing.T) setup {
	t.Helper()
	fake, images := graphapitest.New(t), graphapitest.NewImages(t)
	fake.AllowHTTPImages()
	cfg := instagram.Config{Name: "instagram", Enabled: true, Mode: channels.ModeSend, UserID: graphapitest.IGUserID, PageToken: secret.Secret(graphapitest.Token), APIURL: fake.URL}
	s, err := instagram.NewSender(cfg, channels.Env{Campaign: campaign, Images: images, Logger: slog.New(slog.DiscardHandler)}, provider().Options)
	if err != nil {
		t.Fatal(err)
	}
	return setup{fake: fake, images: images, cfg: cfg, f: instagram.NewFormatter(cfg, campaign), s: s}
}

func vigil() post.Post {
	return post.Post{ID: "vigil", Title: "Vigil at the town hall", Body: "Join us at 7pm with candles.", Link: "https://camaca.example/vigil", Tags: []string{"candle light"}}
}

func (st setup) send(t *testing.T, p post.Post, d channels.Delivery) (channels.Receipt, error) {
	t.Helper()
	pl, err := st.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.s.Send(context.Background(), d, pl)
}

// ledger is a delivery's memory that replaces a part by index, as the
// store does.
type ledger struct{ parts []channels.Part }

func (l *ledger) Parts(context.Context) ([]channels.Part, error) { return l.parts, nil }
func (l *ledger) SavePart(_ context.Context, p channels.Part) error {
	for i := range l.parts {
		if l.parts[i].Index == p.Index {
			l.parts[i] = p
			return nil
		}
	}
	l.parts = append(l.parts, p)
	return nil
}

// TestTitleCardGoesOutWithItsAltText: a post without a picture is a
// title card Instagram fetches from Crier's public address, as a JPEG,
// with alt_text "Title card: TITLE"; the caption has the link written out.
func TestTitleCardGoesOutWithItsAltText(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	st.fake.SetContainerPolls(2)
	r, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	media := st.fake.Media()
	if len(media) != 1 || media[0].Alt != "Title card: Vigil at the town hall" || media[0].ImageType != "image/jpeg" {
		t.Fatalf("media %+v", media)
	}
	if want := "Vigil at the town hall\n\nJoin us at 7pm with candles.\n\nhttps://camaca.example/vigil\n\n#CandleLight"; media[0].Caption != want {
		t.Fatalf("caption %q, want %q", media[0].Caption, want)
	}
	if r.RemoteID != media[0].ID || r.RemoteURL != media[0].Permalink || st.images.Published() != 1 {
		t.Fatalf("receipt %+v, %d images", r, st.images.Published())
	}
	if c := st.fake.Containers(); len(c) != 1 || c[0].Reads != 3 {
		t.Fatalf("containers %+v: want one, read until FINISHED", c)
	}
	img, _, err := image.Decode(bytes.NewReader(media[0].Image))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := img.At(10, 10).RGBA(); r>>8 != 0x12 || g>>8 != 0x34 || b>>8 != 0x56 {
		t.Errorf("the card is not in the campaign's background colour: %x %x %x", r>>8, g>>8, b>>8)
	}
}

// TestPictureIsConvertedAndCarriesAlt: the post's own PNG goes out as a
// JPEG with its alt text.
func TestPictureIsConvertedAndCarriesAlt(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	p := vigil()
	p.Image = &post.Image{File: writePNG(t), Alt: "Candles on the steps"}
	if _, err := st.send(t, p, channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if m := st.fake.Media(); len(m) != 1 || m[0].Alt != "Candles on the steps" || m[0].ImageType != "image/jpeg" {
		t.Fatalf("media %+v", m)
	}
}

// TestPortraitIsPaddedToInstagramsRatio: a phone's 3:4 portrait JPEG,
// which Instagram refuses, goes out padded to 4:5, the picture uncut.
func TestPortraitIsPaddedToInstagramsRatio(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	img := image.NewRGBA(image.Rect(0, 0, 300, 400))
	for i := range img.Pix {
		img.Pix[i] = 0x40
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "portrait.jpg")
	os.WriteFile(path, b.Bytes(), 0o600)
	p := vigil()
	p.Image = &post.Image{File: path, Alt: "A crowd with candles"}
	if _, err := st.send(t, p, channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	m := st.fake.Media()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(m[0].Image))
	if err != nil || cfg.Width != 320 || cfg.Height != 400 {
		t.Fatalf("sent %+v, %v: want 320x400 (4:5)", cfg, err)
	}
}

// TestCardsOffSkipsAPostWithoutPicture: with cards: false the post is
// skipped on Instagram (channels.Skip, not a failure), and the note says
// why and what to do.
func TestCardsOffSkipsAPostWithoutPicture(t *testing.T) {
	t.Parallel()
	off := false
	f := instagram.NewFormatter(instagram.Config{Name: "instagram", Cards: &off}, campaign)
	_, err := f.Format(vigil())
	if !channels.IsSkip(err) || !strings.HasPrefix(err.Error(), "Skipped: ") || !strings.Contains(err.Error(), "cards: false") ||
		!strings.Contains(err.Error(), "add an image") || !strings.Contains(err.Error(), "cards: true") {
		t.Fatalf("got %v (skip: %v), want a Skip whose note names cards: false and what to do", err, channels.IsSkip(err))
	}
	p := vigil()
	p.Image = &post.Image{URL: "https://camaca.example/candles.jpg", Alt: "Candles"}
	pl, err := f.Format(p)
	if err != nil || pl.Body.(instagram.Post).Image.Fallback != nil {
		t.Fatalf("with a picture: %+v, %v", pl, err)
	}
}

// TestCaptionLimits: a caption over 2,200 characters is cut at a word,
// more than 30 hashtags are cut to 30, and the warnings say what went.
func TestCaptionLimits(t *testing.T) {
	t.Parallel()
	f := instagram.NewFormatter(instagram.Config{Name: "instagram"}, campaign)
	p := vigil()
	p.Body = strings.Repeat("Bring a candle and a friend. ", 100)
	for i := range 35 {
		p.Tags = append(p.Tags, "tag"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	p.ContentWarning = "grief"
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	c := pl.Body.(instagram.Post).Caption
	if n := len([]rune(c)); n > 2200 {
		t.Fatalf("caption of %d characters", n)
	}
	if !strings.HasPrefix(c, "Content warning: grief\n") || !strings.Contains(c, "https://camaca.example/vigil") || strings.Count(c, "#") != 30 {
		t.Fatalf("caption %q", c)
	}
	all := strings.Join(pl.Warnings, "\n")
	for _, want := range []string{"hashtags left out", "shortened", "Links in captions are not clickable", "no content warnings"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning saying %q in:\n%s", want, all)
		}
	}
}

// TestContainerStatuses: an ERROR container fails for good with the
// reason, one still IN_PROGRESS after the bounded looks is retried with
// the same container, and one that EXPIRED is replaced.
func TestContainerStatuses(t *testing.T) {
	t.Parallel()
	t.Run("error", func(t *testing.T) {
		t.Parallel()
		st := newSetup(t)
		st.fake.EndContainersAs(graphapitest.StatusError)
		_, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1})
		if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "2207003") {
			t.Fatalf("%v: %v", k, err)
		}
	})
	t.Run("still in progress, then resumed", func(t *testing.T) {
		t.Parallel()
		st := newSetup(t)
		st.fake.SetContainerPolls(25) // over the 20 looks of one attempt
		l := &ledger{}
		_, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1, Ledger: l})
		if k, _ := channels.Classify(err); k != channels.KindTemporary || !strings.Contains(err.Error(), "still preparing") {
			t.Fatalf("%v: %v", k, err)
		}
		if _, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 2, Ledger: l}); err != nil {
			t.Fatal(err)
		}
		if c, m := st.fake.Containers(), st.fake.Media(); len(c) != 1 || len(m) != 1 || l.parts[0].RemoteID != m[0].ID {
			t.Fatalf("containers %d, media %d, ledger %+v", len(c), len(m), l.parts)
		}
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		st := newSetup(t)
		st.fake.SetContainerPolls(25)
		l := &ledger{}
		st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1, Ledger: l})
		st.fake.ExpireContainer(st.fake.Containers()[0].ID)
		st.fake.SetContainerPolls(0)
		if _, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 2, Ledger: l}); err != nil {
			t.Fatal(err)
		}
		if c, m := st.fake.Containers(), st.fake.Media(); len(c) != 2 || len(m) != 1 || m[0].ContainerID != c[1].ID {
			t.Fatalf("containers %+v, media %+v", c, m)
		}
	})
}

// TestLostPublishAnswer: after media_publish's answer was lost, the next
// attempt asks the container (PUBLISHED) and finds the post by its
// caption; when neither the container nor the account can be read it
// waits for an organiser; after "Send again" it posts anew.
func TestLostPublishAnswer(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	l := &ledger{}
	first, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1, Ledger: l})
	if err != nil {
		t.Fatal(err)
	}
	container := st.fake.Containers()[0].ID
	// As if the answer to media_publish had been lost: the ledger still
	// names the container.
	lost := &ledger{parts: []channels.Part{{Index: 0, RemoteID: "container:" + container}}}
	r, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 2, PreviousUnknown: true, Ledger: lost})
	if err != nil || r.RemoteID != first.RemoteID || len(st.fake.Media()) != 1 {
		t.Fatalf("found %+v, %v; %d media", r, err, len(st.fake.Media()))
	}
	refused := graphapitest.Answer{Status: 403, Code: 10, Message: "(#10) Application does not have permission for this action"}
	lost = &ledger{parts: []channels.Part{{Index: 0, RemoteID: "container:" + container}}}
	st.fake.FailPath(container, refused)
	st.fake.FailPath(graphapitest.IGUserID, refused)
	_, err = st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 2, PreviousUnknown: true, Ledger: lost})
	if !channels.IsUnverifiable(err) || !strings.Contains(err.Error(), "unknown: check the Instagram account") || len(st.fake.Media()) != 1 {
		t.Fatalf("want Unverifiable: %v (%d media)", err, len(st.fake.Media()))
	}
	// A revoked token is "reconnect", not "unknown": the container stays
	// in the ledger for the attempt after.
	st.fake.FailPath(container, graphapitest.Answer{Status: 400, Code: 190, Subcode: 460, Message: "Error validating access token"})
	_, err = st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 2, PreviousUnknown: true, Ledger: lost})
	if !channels.IsRefused(err) || channels.IsUnverifiable(err) || !strings.Contains(err.Error(), "reconnect") || !strings.HasPrefix(lost.parts[0].RemoteID, "container:") {
		t.Fatalf("want reconnect: %v, ledger %+v", err, lost.parts)
	}
	// The organiser pressed Send again: unconfirmed is cleared.
	if _, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 3, Ledger: lost}); err != nil || len(st.fake.Media()) != 2 {
		t.Fatalf("send again: %v (%d media)", err, len(st.fake.Media()))
	}
}

// TestPublishingLimitWaits: the account's daily publishing limit through
// the API is a rate limit the engine waits out, not a failure.
func TestPublishingLimitWaits(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	for i := range graphapitest.PublishLimit {
		p := vigil()
		p.ID, p.Title = fmt.Sprintf("post-%d", i), fmt.Sprintf("Post %d", i)
		if _, err := st.send(t, p, channels.Delivery{PostID: p.ID, Channel: "instagram", Attempt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1})
	if k, wait := channels.Classify(err); k != channels.KindRateLimited || wait != time.Hour || !strings.Contains(err.Error(), "24 hours") {
		t.Fatalf("%v %s: %v", k, wait, err)
	}
}

// TestConnectRefusesAnAddressInstagramCannotFetch: a daemon whose
// http.public_url is not public https does not connect the channel.
func TestConnectRefusesAnAddressInstagramCannotFetch(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	st.images.FailCheck(errors.New("http.public_url http://localhost:8080 is not a public https address"))
	_, err := instagram.NewSender(st.cfg, channels.Env{Images: st.images}, instagram.Options{})
	if err == nil || !strings.Contains(err.Error(), "public_url") {
		t.Fatalf("got %v", err)
	}
	if _, err := instagram.NewSender(st.cfg, channels.Env{}, instagram.Options{}); err == nil || !strings.Contains(err.Error(), "http.public_url") {
		t.Fatalf("without images: %v", err)
	}
	c := channels.Connection{Instance: "instagram", Values: map[string]string{"user_id": graphapitest.IGUserID, "page_token": graphapitest.Token, "api_url": st.fake.URL}}
	if _, err := (instagram.Provider{}).CheckConnection(context.Background(), channels.Env{Images: st.images}, c); err == nil || !strings.Contains(err.Error(), "public_url") {
		t.Fatalf("connect check: %v", err)
	}
	if _, err := (instagram.Provider{}).CheckConnection(context.Background(), channels.Env{}, c); err == nil || !strings.Contains(err.Error(), "http.public_url") {
		t.Fatalf("connect check without images: %v", err)
	}
}

// TestConnectCheck: the account is named; a missing permission, a wrong
// id and a refused token are said in words, naming the field.
func TestConnectCheck(t *testing.T) {
	t.Parallel()
	fake := graphapitest.New(t)
	env := channels.Env{Images: graphapitest.NewImages(t)}
	c := channels.Connection{Instance: "instagram", Values: map[string]string{"user_id": graphapitest.IGUserID, "page_token": graphapitest.Token, "api_url": fake.URL}}
	name, err := instagram.Provider{}.CheckConnection(context.Background(), env, c)
	if err != nil || name != "@"+graphapitest.IGUsername {
		t.Fatalf("got %q, %v", name, err)
	}
	fake.SetScopes("pages_show_list", "pages_read_engagement", "instagram_basic")
	_, err = instagram.Provider{}.CheckConnection(context.Background(), env, c)
	var ce *channels.ConnectError
	if !errors.As(err, &ce) || ce.Field != "page_token" || !strings.Contains(ce.Reason, "instagram_content_publish") {
		t.Fatalf("got %v", err)
	}
	fake.FailPath(graphapitest.IGUserID, graphapitest.Answer{Status: 400, Code: 100, Subcode: 33, Message: "Unsupported get request."})
	_, err = instagram.Provider{}.CheckConnection(context.Background(), env, c)
	if !errors.As(err, &ce) || ce.Field != "user_id" || !strings.Contains(ce.Reason, "linked to the token's Page") {
		t.Fatalf("got %v", err)
	}
	c.Values["user_id"] = "@camaca"
	if _, err = (instagram.Provider{}).CheckConnection(context.Background(), env, c); !errors.As(err, &ce) || ce.Field != "user_id" || !strings.Contains(ce.Reason, "not its @name") {
		t.Fatalf("got %v", err)
	}
}

// TestCorrectionsSayWhatInstagramCannot: an edit in place is refused
// with "by hand in the Instagram app"; a refused deletion says the same.
func TestCorrectionsSayWhatInstagramCannot(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	l := &ledger{}
	if _, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1, Ledger: l}); err != nil {
		t.Fatal(err)
	}
	pl, _ := st.f.Format(vigil())
	_, err := st.s.Correct(context.Background(), channels.Correction{PostID: "vigil", Channel: "instagram", Revision: 1, Parts: l.parts, Note: "8pm"}, pl)
	if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "by hand in the Instagram app") {
		t.Fatalf("%v: %v", k, err)
	}
	plan, _ := st.s.PlanCorrection(context.Background(), "vigil", l.parts)
	if len(plan.Styles) != 1 || plan.Styles[0] != channels.CorrectByReply || !strings.Contains(plan.How, "cannot change a caption") {
		t.Fatalf("plan %+v", plan)
	}
	st.fake.FailPath(l.parts[0].RemoteID, graphapitest.Answer{Status: 400, Code: 3, Message: "Application does not have the capability to make this API call."})
	_, err = st.s.Withdraw(context.Background(), channels.Withdrawal{PostID: "vigil", Channel: "instagram", Parts: l.parts})
	if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "delete it by hand in the Instagram app") || len(st.fake.Media()) != 1 {
		t.Fatalf("%v: %v", k, err)
	}
}

// TestPreviewCardLooksLikeInstagram: the title card or the picture with
// its alt text, the caption, and a note that links are not clickable.
func TestPreviewCardLooksLikeInstagram(t *testing.T) {
	t.Parallel()
	_, insts, err := channels.NewRegistry(instagram.Provider{}).Parse("config.yaml", []byte("channels:\n  instagram:\n    enabled: true\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cp := insts[0].Settings.(channels.CardPreviewer)
	f, _ := insts[0].Settings.Formatter(campaign)
	pl, _ := f.Format(vigil())
	card := cp.PreviewCard(pl)
	m := card.Messages[0]
	if len(m.Images) != 1 || m.Images[0].Alt != "Title card: Vigil at the town hall" || m.Limit != 2200 {
		t.Fatalf("card %+v", card)
	}
	if w := strings.Join(pl.Warnings, "\n"); !strings.Contains(w, "Links in captions are not clickable") || !strings.Contains(w, "square title card") {
		t.Fatalf("warnings %s", w)
	}
	p := vigil()
	p.Image = &post.Image{URL: "https://camaca.example/candles.jpg", Alt: "Candles"}
	pl, _ = f.Format(p)
	if m := cp.PreviewCard(pl).Messages[0]; m.Embed != nil || len(m.Images) != 1 || m.Images[0].Alt != "Candles" {
		t.Fatalf("photo card %+v", m)
	}
}

// TestSeveralAccounts: instances side by side; one without credentials
// renders to the outbox, and the token is never printed in a problem.
func TestSeveralAccounts(t *testing.T) {
	t.Parallel()
	env := map[string]string{"INSTAGRAM_USER_ID": graphapitest.IGUserID, "FACEBOOK_PAGE_TOKEN": graphapitest.Token}
	_, insts, err := channels.NewRegistry(instagram.Provider{}).Parse("config.yaml", []byte(`channels:
  instagram:
    enabled: true
    user_id: ${INSTAGRAM_USER_ID:-}
    page_token: ${FACEBOOK_PAGE_TOKEN:-}
  instagram-youth:
    type: instagram
    enabled: true
    cards: false
`), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || len(insts) != 2 || insts[0].UsesOutbox() || !insts[1].UsesOutbox() {
		t.Fatalf("instances %+v, %v", insts, err)
	}
	_, _, err = channels.NewRegistry(instagram.Provider{}).Parse("config.yaml", []byte(`channels:
  instagram:
    enabled: true
    mode: send
    user_id: "@camaca"
    page_token: "short secretvalue"
    api_url: "https://graph.facebook.com/v21.0"
`), func(string) (string, bool) { return "", false })
	if err == nil || strings.Contains(err.Error(), "secretvalue") {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"channels.instagram.user_id", "channels.instagram.page_token", "channels.instagram.api_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem for %s in:\n%v", want, err)
		}
	}
}

func writePNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	img.Set(1, 1, color.RGBA{200, 0, 0, 255})
	path := filepath.Join(t.TempDir(), "candles.png")
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReachReadsLikesCommentsAndInsights: likes and comments from the
// post, shares as Reposts and the accounts reached and saves as the
// channel's own counts; without instagram_manage_insights those stay "not
// available" with a note.
func TestReachReadsLikesCommentsAndInsights(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	l := &ledger{}
	if _, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1, Ledger: l}); err != nil {
		t.Fatal(err)
	}
	st.fake.EngageMedia(l.parts[0].RemoteID, 4, 1, "See you there")
	r, err := st.s.ReadReach(context.Background(), l.parts, channels.ReachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := channels.Counters{Likes: channels.CountOf(4), Replies: channels.CountOf(1), Reposts: channels.CountOf(1)}
	if r.Total != want || len(r.Replies) != 1 || r.Replies[0].Excerpt != "See you there" || len(r.Extra) != 2 || r.Extra[0].Count != channels.CountOf(15) {
		t.Fatalf("reach %+v", r)
	}
	refused := graphapitest.Answer{Status: 403, Code: 10, Message: "(#10) Application does not have permission for this action"}
	st.fake.FailInsights(refused)
	r, err = st.s.ReadReach(context.Background(), l.parts, channels.ReachOptions{})
	if err != nil || r.Total.Reposts.Known || r.Extra[0].Count.Known || !r.Total.Likes.Known || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "instagram_manage_insights") {
		t.Fatalf("reach %+v, %v", r, err)
	}
}
