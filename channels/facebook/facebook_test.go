package facebook_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/facebook"
	"github.com/crierhq/crier/channels/graphapi/graphapitest"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/post"
)

// setup is a fake Page and a sender and formatter connected to it, with
// what the sender logged.
type setup struct {
	fake *graphapitest.Fake
	f    *facebook.Formatter
	s    *facebook.Sender
	logs *bytes.Buffer
}

func newSetup(t *testing.T) setup {
	t.Helper()
	fake := graphapitest.New(t)
	cfg := facebook.Config{Name: "facebook", Enabled: true, Mode: channels.ModeSend, PageID: graphapitest.PageID, PageToken: secret.Secret(graphapitest.Token), APIURL: fake.URL}
	logs := &bytes.Buffer{}
	s, err := facebook.NewSender(cfg, channels.Env{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return setup{fake: fake, f: facebook.NewFormatter(cfg, channels.Campaign{}), s: s, logs: logs}
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

// TestFeedPostCarriesTextAndLinkCard checks the feed post's message and
// link parameter, and that the receipt names the post.
func TestFeedPostCarriesTextAndLinkCard(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	r, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "facebook", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	posts := st.fake.Posts()
	if len(posts) != 1 || posts[0].Link != "https://camaca.example/vigil" || posts[0].Message != "Vigil at the town hall\n\nJoin us at 7pm with candles.\n\n#CandleLight" {
		t.Fatalf("posts %+v", posts)
	}
	if r.RemoteID != posts[0].ID || !strings.HasPrefix(r.RemoteURL, "https://www.facebook.com/"+graphapitest.PageID+"/posts/") {
		t.Fatalf("receipt %+v", r)
	}
}

// TestPhotoPostSendsAltText checks a post with an image becomes a photo
// post with the caption, the link written out and alt_text_custom.
func TestPhotoPostSendsAltText(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	p := vigil()
	p.Image = &post.Image{File: writePNG(t), Alt: "Candles on the town hall steps"}
	if _, err := st.send(t, p, channels.Delivery{PostID: "vigil", Channel: "facebook", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	posts := st.fake.Posts()
	if len(posts) != 1 || posts[0].PhotoID == "" || posts[0].Alt != "Candles on the town hall steps" || !strings.Contains(posts[0].Message, "https://camaca.example/vigil") {
		t.Fatalf("posts %+v", posts)
	}
}

// TestLostAnswerUnreadableWaitsForOrganiser: after a lost answer, when
// Facebook refuses for good to list the Page's posts, the sender does not
// post again blindly but says "unknown: check the Page" as an
// Unverifiable outcome (the engine's It went out / Send again).
func TestLostAnswerUnreadableWaitsForOrganiser(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	st.fake.Fail(graphapitest.Answer{Status: 403, Code: 10, Message: "(#10) This endpoint requires the 'pages_read_engagement' permission"})
	_, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "facebook", Attempt: 2, PreviousUnknown: true})
	if !channels.IsUnverifiable(err) || !strings.Contains(err.Error(), "unknown: check the Page") {
		t.Fatalf("want an Unverifiable unknown: %v", err)
	}
	if k, _ := channels.Classify(err); k != channels.KindAmbiguous {
		t.Fatalf("kind %v", k)
	}
	if n := len(st.fake.Posts()); n != 0 {
		t.Fatalf("%d posts: it posted without knowing", n)
	}
	// A passing failure of the read is retried as such, not a wait.
	st.fake.Fail(graphapitest.Answer{Status: 500, Code: 2, Message: "An unexpected error has occurred."})
	_, err = st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "facebook", Attempt: 3, PreviousUnknown: true})
	if k, _ := channels.Classify(err); k != channels.KindTemporary || channels.IsUnverifiable(err) {
		t.Fatalf("kind %v: %v", k, err)
	}
}

// TestLostAnswerFindsItsPostByTextAndLink: a post of the same text with
// another link is not taken for ours.
func TestLostAnswerFindsItsPostByTextAndLink(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	other := vigil()
	other.Link = "https://camaca.example/other"
	if _, err := st.send(t, other, channels.Delivery{PostID: "other", Channel: "facebook", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "facebook", Attempt: 2, PreviousUnknown: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(st.fake.Posts()); n != 2 {
		t.Fatalf("%d posts, want 2: the other link's post was taken for this one", n)
	}
	r, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "facebook", Attempt: 3, PreviousUnknown: true})
	if err != nil || len(st.fake.Posts()) != 2 || r.RemoteID != st.fake.Posts()[1].ID {
		t.Fatalf("found %+v, %v; posts %+v", r, err, st.fake.Posts())
	}
}

// TestReachNotAvailableWithoutPermission: counters the token may not read
// stay "not available", with a note.
func TestReachNotAvailableWithoutPermission(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	r, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "facebook", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	st.fake.Fail(graphapitest.Answer{Status: 403, Code: 10, Message: "(#10) This endpoint requires the 'pages_read_engagement' permission"})
	reach, err := st.s.ReadReach(context.Background(), []channels.Part{{RemoteID: r.RemoteID}}, channels.ReachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reach.Total.Reactions.Known || reach.Total.Reposts.Known || len(reach.Notes) != 1 || !strings.Contains(reach.Notes[0], "pages_read_engagement") {
		t.Fatalf("reach %+v", reach)
	}
}

// TestConnectNamesMissingPermissions checks the connect form's check.
func TestConnectNamesMissingPermissions(t *testing.T) {
	t.Parallel()
	fake := graphapitest.New(t)
	c := channels.Connection{Instance: "facebook", Values: map[string]string{"page_id": graphapitest.PageID, "page_token": graphapitest.Token, "api_url": fake.URL}}
	name, err := facebook.Provider{}.CheckConnection(context.Background(), channels.Env{}, c)
	if err != nil || name != graphapitest.PageName {
		t.Fatalf("got %q, %v", name, err)
	}
	fake.SetScopes("pages_show_list")
	_, err = facebook.Provider{}.CheckConnection(context.Background(), channels.Env{}, c)
	if err == nil || !strings.Contains(err.Error(), "pages_manage_posts, pages_read_engagement") || strings.Contains(err.Error(), graphapitest.Token) {
		t.Fatalf("got %v", err)
	}
	c.Values["page_token"] = "EAAGsomeOtherTokenThatFacebookDoesNotKnow"
	_, err = facebook.Provider{}.CheckConnection(context.Background(), channels.Env{}, c)
	var ce *channels.ConnectError
	if err == nil || !asConnect(err, &ce) || ce.Field != "page_token" {
		t.Fatalf("got %v", err)
	}
}

func asConnect(err error, ce **channels.ConnectError) bool {
	e, ok := err.(*channels.ConnectError)
	*ce = e
	return ok
}

func writePNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{200, 0, 0, 255})
	path := filepath.Join(t.TempDir(), "candles.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConnectAcceptsAPageWhoseTokenCannotBeDebugged: Meta may refuse
// debug_token to a Page token; the Page answered, so the connection is
// taken, saying the permissions were not checked.
func TestConnectAcceptsAPageWhoseTokenCannotBeDebugged(t *testing.T) {
	t.Parallel()
	fake := graphapitest.New(t)
	c := channels.Connection{Instance: "facebook", Values: map[string]string{"page_id": graphapitest.PageID, "page_token": graphapitest.Token, "api_url": fake.URL}}
	// The Page read passes; debug_token is refused as Meta does for a
	// token of an app the caller does not develop.
	fake.FailPath("debug_token", graphapitest.Answer{Status: 400, Code: 100, Message: "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app"})
	name, err := facebook.Provider{}.CheckConnection(context.Background(), channels.Env{}, c)
	if err != nil || !strings.HasPrefix(name, graphapitest.PageName) || !strings.Contains(name, "permissions not checked") {
		t.Fatalf("got %q, %v", name, err)
	}
}

// TestPreviewCardLooksLikeFacebook: a feed post shows its link card, a
// photo post its photo with the alt text and a note on the link.
func TestPreviewCardLooksLikeFacebook(t *testing.T) {
	t.Parallel()
	insts, err := parse(t, "channels:\n  facebook:\n    enabled: true\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := insts[0].Settings.(channels.CardPreviewer)
	f, _ := insts[0].Settings.Formatter(channels.Campaign{})
	pl, _ := f.Format(vigil())
	card := cp.PreviewCard(pl)
	if len(card.Messages) != 1 || card.Messages[0].Embed == nil || card.Messages[0].Embed.URL != "https://camaca.example/vigil" || card.Messages[0].Limit != 63206 || len(card.Notes) != 1 || !strings.Contains(card.Notes[0], "a card for https://camaca.example/vigil") {
		t.Fatalf("feed card %+v", card)
	}
	p := vigil()
	p.Image = &post.Image{URL: "https://camaca.example/candles.jpg", Alt: "Candles"}
	pl, _ = f.Format(p)
	card = cp.PreviewCard(pl)
	if m := card.Messages[0]; m.Embed != nil || len(m.Images) != 1 || m.Images[0].Alt != "Candles" || len(card.Notes) != 1 {
		t.Fatalf("photo card %+v", card)
	}
}
