package threads_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/channels/threads"
	"github.com/crierhq/crier/channels/threads/threadstest"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/post"
)

// bundle is one test's fake Threads, picture server, formatter and sender.
type bundle struct {
	fake   *threadstest.Fake
	images *threadstest.Images
	f      *threads.Formatter
	s      *threads.Sender
	cfg    threads.Config
}

func setup(t *testing.T, o threads.SenderOptions, withImages bool) *bundle {
	t.Helper()
	b := &bundle{fake: threadstest.New(t)}
	b.cfg = threads.Config{Enabled: true, Mode: channels.ModeSend, UserID: threadstest.UserID, Token: secret.Secret(threadstest.Token), APIURL: b.fake.URL}
	env := channels.Env{}
	if withImages {
		b.images = threadstest.NewImages(t)
		env.Images = b.images
	}
	if o.PollEvery == 0 {
		o.PollEvery = time.Millisecond
	}
	s, err := threads.NewSender(b.cfg, env, o)
	if err != nil {
		t.Fatal(err)
	}
	b.s, b.f = s, threads.NewFormatter(b.cfg, channels.Campaign{})
	return b
}

func (b *bundle) format(t *testing.T, p post.Post) channels.Payload {
	t.Helper()
	pl, err := b.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func (b *bundle) send(t *testing.T, d channels.Delivery, pl channels.Payload) (channels.Receipt, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d.Ledger == nil {
		d.Ledger = &ledger{}
	}
	return b.s.Send(ctx, d, pl)
}

type ledger struct{ parts []channels.Part }

func (l *ledger) Parts(context.Context) ([]channels.Part, error) { return l.parts, nil }
func (l *ledger) SavePart(_ context.Context, p channels.Part) error {
	l.parts = append(l.parts, p)
	return nil
}

var vigil = post.Post{ID: "md:vigil", Title: "Vigil on Friday", Link: "https://camaca.example/news/vigil",
	Body: strings.Repeat("We gather at seven at the town hall to remember the victims; bring a candle and a friend. ", 12),
	Tags: []string{"Human Rights", "vigil"}}

func picture(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	img.Set(1, 1, color.White)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "candles.png")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// A long post becomes a reply chain: every post within 500 as Threads
// counts, numbered, the link as the first post's attachment (not in the
// text), the first tag as its topic tag; the chain arrives in order.
func TestLongPostIsAReplyChain(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, true)
	pl := b.format(t, vigil)
	chain := pl.Body.(threads.Chain)
	if len(chain) < 2 {
		t.Fatalf("%d posts, want a chain", len(chain))
	}
	for i, p := range chain {
		if n := threads.Count(p.Text); n > threads.MaxText {
			t.Errorf("post %d counts %d", i+1, n)
		}
		if (i == 0) != (p.Link != "" && p.TopicTag != "") {
			t.Errorf("post %d: link %q, topic tag %q: only the first carries them", i+1, p.Link, p.TopicTag)
		}
		if strings.Contains(p.Text, "camaca.example") {
			t.Errorf("post %d writes the link out: %q", i+1, p.Text)
		}
	}
	if chain[0].TopicTag != "Human Rights" || !strings.Contains(strings.Join(pl.Warnings, "\n"), "one topic tag per post") {
		t.Errorf("topic tag %q, warnings %q", chain[0].TopicTag, pl.Warnings)
	}
	r, err := b.send(t, channels.Delivery{PostID: vigil.ID, Channel: "threads", Attempt: 1}, pl)
	if err != nil {
		t.Fatal(err)
	}
	posts := b.fake.Posts()
	if len(posts) != len(chain) || posts[0].ID != r.RemoteID || posts[0].Link != vigil.Link || !strings.HasPrefix(r.RemoteURL, "https://www.threads.net/@") {
		t.Fatalf("posts %+v, receipt %+v", posts, r)
	}
	for i := 1; i < len(posts); i++ {
		if posts[i].ReplyTo != posts[i-1].ID {
			t.Errorf("post %d replies to %q, want the post before (%s)", i+1, posts[i].ReplyTo, posts[i-1].ID)
		}
	}
}

// Threads counts an emoji as its UTF-8 bytes and every other character
// as one.
func TestCountAsThreads(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]int{"abc": 3, "é": 1, "🎉": 4, "👍🏽": 8, "☀️": 6, "日本": 2, "👨‍👩‍👧": 18} {
		if got := threads.Count(text); got != want {
			t.Errorf("Count(%q) = %d, want %d", text, got, want)
		}
		if got := threadstest.Count(text); got > threads.Count(text) {
			t.Errorf("the fake counts %q as %d, more than the channel's %d", text, got, threads.Count(text))
		}
	}
}

// A tag becomes a topic tag by Threads' rules: at most 50 characters, no
// periods or ampersands.
func TestTopicTag(t *testing.T) {
	t.Parallel()
	for tag, want := range map[string]string{
		"#vigil":                       "vigil",
		"St. Mary's & Friends":         "St Mary's and Friends",
		strings.Repeat("justice ", 10): "justice justice justice justice justice justice",
		"...":                          "",
	} {
		if got := threads.TopicTag(tag); got != want {
			t.Errorf("TopicTag(%q) = %q, want %q", tag, got, want)
		}
	}
}

// A content warning opens every post and hides the text below it behind
// Threads' spoiler; a picture is blurred.
func TestContentWarningIsASpoiler(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, true)
	p := vigil
	p.ContentWarning = "violence"
	p.Image = &post.Image{File: picture(t), Alt: "Candles"}
	pl := b.format(t, p)
	for i, part := range pl.Body.(threads.Chain) {
		if !strings.HasPrefix(part.Text, "Content warning: violence\n\n") || part.Spoiler == nil || part.Spoiler.Offset != len("Content warning: violence\n\n") {
			t.Errorf("post %d: %q, spoiler %+v", i+1, part.Text, part.Spoiler)
		}
	}
	if _, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, pl); err != nil {
		t.Fatal(err)
	}
	first := b.fake.Posts()[0]
	if !first.SpoilerMedia || !strings.Contains(first.TextEntities, `"SPOILER"`) {
		t.Errorf("first post: media spoiler %v, entities %q", first.SpoilerMedia, first.TextEntities)
	}
}

// Threads fetches the picture from Crier's public address: the fake
// fetched it, and the post carries it with its alt text; its link is
// written in the text (a link attachment is for text posts only).
func TestPictureIsFetchedByThreads(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, true)
	p := vigil
	p.Image = &post.Image{File: picture(t), Alt: "Candles on the town hall steps"}
	pl := b.format(t, p)
	first := pl.Body.(threads.Chain)[0]
	if first.Link != "" || !strings.Contains(first.Text, vigil.Link) {
		t.Errorf("first post with a picture: link attachment %q, text %q", first.Link, first.Text)
	}
	r, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, pl)
	if err != nil || len(r.Notes) > 0 {
		t.Fatalf("%v, notes %q", err, r.Notes)
	}
	got := b.fake.Posts()[0]
	want, _ := os.ReadFile(p.Image.File)
	if !bytes.Equal(got.Image, want) || got.Alt != "Candles on the town hall steps" || b.images.Fetches() != 1 {
		t.Errorf("picture of %d bytes (want %d), alt %q, fetched %d times", len(got.Image), len(want), got.Alt, b.images.Fetches())
	}
}

// Without a public address for pictures the text still goes out: the
// picture is left out with a note saying why.
func TestTextGoesOutWhenPicturesCannotBeServed(t *testing.T) {
	t.Parallel()
	for name, withImages := range map[string]bool{"no public_url": false, "not public": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, threads.SenderOptions{}, withImages)
			if withImages {
				b.images.Refuse = "http.public_url http://localhost:8080 is not a public https address"
				b.s, _ = threads.NewSender(b.cfg, channels.Env{Images: b.images}, threads.SenderOptions{PollEvery: time.Millisecond})
			}
			p := vigil
			p.Image = &post.Image{File: picture(t), Alt: "Candles"}
			r, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, b.format(t, p))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "picture left out") || !strings.Contains(r.Notes[0], "public") {
				t.Errorf("notes %q", r.Notes)
			}
			if first := b.fake.Posts()[0]; first.ImageURL != "" || !strings.Contains(first.Text, vigil.Link) {
				t.Errorf("first post %+v", first)
			}
		})
	}
}

// The sender waits, a bounded number of times, until Threads has the
// container ready; past the bound nothing is published and the attempt
// is retried later.
func TestContainerWaitIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	b.fake.ReadyAfter(3)
	p := post.Post{ID: "md:short", Title: "Vigil", Body: "At seven."}
	if _, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, b.format(t, p)); err != nil {
		t.Fatalf("ready after 3 reads: %v", err)
	}
	slow := setup(t, threads.SenderOptions{PollEvery: time.Millisecond, PollFor: 50 * time.Millisecond}, false)
	slow.fake.ReadyAfter(1 << 30)
	_, err := slow.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, slow.format(t, p))
	if k, _ := channels.Classify(err); err == nil || k != channels.KindTemporary || len(slow.fake.Posts()) != 0 {
		t.Fatalf("never ready: %v (%s), %d posts", err, k, len(slow.fake.Posts()))
	}
}

// A container Threads could not prepare is refused for good, with what
// to do about it.
func TestContainerErrorSaysWhy(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, true)
	b.fake.OnViolation(func(string) {})
	p := vigil
	p.Image = &post.Image{File: picture(t), Alt: "Candles"}
	pl := b.format(t, p)
	// A picture the fake cannot fetch: the address answers 404.
	b.images.Refuse = ""
	broken := threadstest.NewImages(t)
	s, _ := threads.NewSender(b.cfg, channels.Env{Images: brokenImages{broken}}, threads.SenderOptions{PollEvery: time.Millisecond})
	b.s = s
	_, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, pl)
	if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "http.public_url") {
		t.Fatalf("%v (%s)", err, k)
	}
}

// brokenImages hands out addresses that answer 404.
type brokenImages struct{ *threadstest.Images }

func (b brokenImages) Publish(ctx context.Context, data []byte, ct string, keep time.Duration) (string, error) {
	u, err := b.Images.Publish(ctx, data, ct, keep)
	return u + "-gone", err
}

// When the answer to a publish was lost and Threads will not list the
// account's posts, Crier cannot tell: the delivery waits for an organiser.
func TestLostAnswerThatCannotBeCheckedWaitsForAPerson(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	b.fake.FailNext("GET user/threads", threadstest.Answer{Status: 400, Code: 100, Message: "(#100) Tried accessing nonexisting field"})
	p := post.Post{ID: "md:short", Title: "Vigil", Body: "At seven."}
	_, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 2, PreviousUnknown: true}, b.format(t, p))
	if !channels.IsUnverifiable(err) || !strings.Contains(err.Error(), "It went out or Send again") || len(b.fake.Posts()) != 0 {
		t.Fatalf("%v, %d posts", err, len(b.fake.Posts()))
	}
}

// Over 250 posts in 24 hours Threads refuses to publish: the delivery
// waits, and goes out once the day has moved on.
func TestPublishingLimitWaits(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	now := time.Now()
	b.fake.SetNow(func() time.Time { return now })
	b.fake.UsePostQuota(threadstest.PostsPerDay)
	p := post.Post{ID: "md:short", Title: "Vigil", Body: "At seven."}
	pl := b.format(t, p)
	_, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, pl)
	if k, wait := channels.Classify(err); k != channels.KindRateLimited || wait != time.Hour || !strings.Contains(err.Error(), "250 posts a day") {
		t.Fatalf("at the limit: %v (%s, %s)", err, k, wait)
	}
	later := now.Add(25 * time.Hour)
	b.fake.SetNow(func() time.Time { return later })
	if _, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 2}, pl); err != nil || len(b.fake.Posts()) != 1 {
		t.Fatalf("a day later: %v, %d posts", err, len(b.fake.Posts()))
	}
}

// A correction by repost deletes the chain and publishes the corrected
// one; withdrawing deletes every post of the chain.
func TestRepostAndWithdraw(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	l := &ledger{}
	if _, err := b.send(t, channels.Delivery{PostID: vigil.ID, Channel: "threads", Attempt: 1, Ledger: l}, b.format(t, vigil)); err != nil {
		t.Fatal(err)
	}
	fixed := vigil
	fixed.Title = "Vigil on Friday at eight"
	ctx := context.Background()
	res, err := b.s.Correct(ctx, channels.Correction{PostID: vigil.ID, Channel: "threads", Revision: 1, Parts: l.parts, Style: channels.CorrectByRepost}, b.format(t, fixed))
	if err != nil || len(res) != len(l.parts) || res[0].Outcome != channels.OutcomeReposted {
		t.Fatalf("repost: %+v, %v", res, err)
	}
	if posts := b.fake.Posts(); len(posts) != len(l.parts) || !strings.Contains(posts[0].Text, "at eight") {
		t.Fatalf("after the repost the account holds %d posts: %+v", len(posts), posts)
	}
	var parts []channels.Part
	for _, r := range res {
		parts = append(parts, channels.Part{Index: r.Index, RemoteID: r.RemoteID, RemoteURL: r.RemoteURL})
	}
	if _, err := b.s.Withdraw(ctx, channels.Withdrawal{PostID: vigil.ID, Channel: "threads", Parts: parts}); err != nil || len(b.fake.Posts()) != 0 {
		t.Fatalf("withdraw: %v, %d posts left", err, len(b.fake.Posts()))
	}
}

// Withdrawing without threads_delete says which permission to grant.
func TestWithdrawNamesThePermission(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	l := &ledger{}
	p := post.Post{ID: "md:short", Title: "Vigil", Body: "At seven."}
	if _, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1, Ledger: l}, b.format(t, p)); err != nil {
		t.Fatal(err)
	}
	b.fake.SetScopes("threads_basic", "threads_content_publish")
	_, err := b.s.Withdraw(context.Background(), channels.Withdrawal{PostID: p.ID, Channel: "threads", Parts: l.parts})
	if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "threads_delete") {
		t.Fatalf("%v (%s)", err, k)
	}
}

// The outbox file shows exactly what would be sent, and no secret.
func TestOutboxShowsTheChain(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	dir := t.TempDir()
	if _, err := outbox.New(dir).Send(context.Background(), channels.Delivery{PostID: vigil.ID, Channel: "threads", Attempt: 1}, b.format(t, vigil)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "threads", "*.json"))
	if len(files) != 1 {
		t.Fatalf("outbox files %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	for _, want := range []string{`"link_attachment": "https://camaca.example/news/vigil"`, `"topic_tag": "Human Rights"`, "1/"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the outbox file lacks %s:\n%s", want, raw)
		}
	}
	if bytes.Contains(raw, []byte(threadstest.Token)) || !json.Valid(raw) {
		t.Errorf("the outbox file holds the token or is not JSON")
	}
}

// A post of only a link is a text post of the link; a post of nothing is
// refused by name.
func TestOnlyALink(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	pl := b.format(t, post.Post{ID: "md:link", Link: "https://camaca.example/news"})
	if c := pl.Body.(threads.Chain); len(c) != 1 || c[0].Text != "https://camaca.example/news" || c[0].Link != "https://camaca.example/news" {
		t.Errorf("chain %+v", c)
	}
	if _, err := b.send(t, channels.Delivery{PostID: "md:link", Channel: "threads", Attempt: 1}, pl); err != nil {
		t.Error(err)
	}
	if _, err := b.f.Format(post.Post{ID: "md:empty"}); err == nil || !strings.Contains(err.Error(), "md:empty") {
		t.Errorf("an empty post: %v", err)
	}
}

// Threads takes JPEG and PNG only: a GIF goes out converted to PNG.
func TestGIFGoesOutAsPNG(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, true)
	img := image.NewPaletted(image.Rect(0, 0, 30, 20), color.Palette{color.Black, color.White})
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "wave.gif")
	os.WriteFile(file, buf.Bytes(), 0o600)
	p := post.Post{ID: "md:gif", Title: "Wave", Image: &post.Image{File: file, Alt: "A wave"}}
	r, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, b.format(t, p))
	if err != nil || len(r.Notes) > 0 {
		t.Fatalf("%v, notes %q", err, r.Notes)
	}
	got := b.fake.Posts()[0]
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(got.Image)); err != nil || format != "png" || cfg.Width != 30 {
		t.Errorf("Threads got a %s of %+v: %v", format, cfg, err)
	}
}
