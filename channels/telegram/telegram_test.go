package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/telegram"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/post"
)

var campaign = channels.Campaign{Name: "CAMACA", Website: "https://camaca.example", Language: "en"}

// tgSetup is a fake Bot API with a formatter and a sender pointed at it.
type tgSetup struct {
	fake *fakeAPI
	cfg  telegram.Config
	f    *telegram.Formatter
	s    *telegram.Sender
}

func setup(t *testing.T) *tgSetup {
	t.Helper()
	fake := newFakeAPI(t)
	cfg := telegram.Config{Name: "telegram", Enabled: true, BotToken: secret.Secret(fakeToken), ChatID: "@" + fakeChatName, APIURL: fake.srv.URL}
	s, err := telegram.NewSender(cfg, channels.Env{Campaign: campaign})
	if err != nil {
		t.Fatal(err)
	}
	return &tgSetup{fake: fake, cfg: cfg, f: telegram.NewFormatter(cfg, campaign), s: s}
}

func (x *tgSetup) format(t *testing.T, p post.Post) channels.Payload {
	t.Helper()
	pl, err := x.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func (x *tgSetup) send(p channels.Payload, d channels.Delivery) (channels.Receipt, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d.Ledger == nil {
		d.Ledger = &memLedger{}
	}
	return x.s.Send(ctx, d, p)
}

type memLedger struct{ parts []channels.Part }

func (m *memLedger) Parts(context.Context) ([]channels.Part, error) { return m.parts, nil }
func (m *memLedger) SavePart(_ context.Context, p channels.Part) error {
	m.parts = append(m.parts, p)
	return nil
}

func vigil() post.Post {
	return post.Post{ID: "md:vigil", Title: "Fish & <Chips> vigil", Link: "https://camaca.example/vigil",
		Body: "Bring **candles** and *friends*: [the map](https://camaca.example/map), <b>raw</b> [bad](javascript:alert(1)).",
		Tags: []string{"vigil", "End Trafficking"}}
}

func body(t *testing.T, pl channels.Payload) telegram.Messages {
	t.Helper()
	return pl.Body.(telegram.Messages)
}

// Text goes out in HTML parse mode: bold, italics and links as tags,
// everything else escaped, raw HTML and unsafe links as text; the post's
// own page is the link preview.
func TestFormatEscapesAndLinks(t *testing.T) {
	t.Parallel()
	x := setup(t)
	m := body(t, x.format(t, vigil())).Messages
	if len(m) != 1 || m[0].Method != "sendMessage" || m[0].ParseMode != "HTML" {
		t.Fatalf("messages %+v, want one sendMessage in HTML", m)
	}
	for _, want := range []string{
		"<b>Fish &amp; &lt;Chips&gt; vigil</b>", "<b>candles</b>", "<i>friends</i>",
		`<a href="https://camaca.example/map">the map</a>`, "bad", `<a href="https://camaca.example/vigil">Read more</a>`,
		"#vigil #EndTrafficking",
	} {
		if !strings.Contains(m[0].Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m[0].Text)
		}
	}
	if strings.Contains(m[0].Text, "javascript") || strings.Contains(m[0].Text, "<b>raw</b>") {
		t.Errorf("an unsafe link or raw HTML went through:\n%s", m[0].Text)
	}
	if lp := m[0].LinkPreviewOptions; lp == nil || lp.IsDisabled || lp.URL != "https://camaca.example/vigil" {
		t.Errorf("link preview %+v, want the post's own page", lp)
	}
	if _, err := parseHTML(m[0].Text, loadBotAPI(t)); err != nil {
		t.Errorf("Telegram would not parse the text: %v", err)
	}
}

// A content warning is a visible line; the text is behind a spoiler, the
// photo blurred, and no link preview shows what the spoiler hides.
func TestFormatContentWarning(t *testing.T) {
	t.Parallel()
	x := setup(t)
	p := vigil()
	p.ContentWarning = "trafficking"
	m := body(t, x.format(t, p)).Messages[0]
	if !strings.HasPrefix(m.Text, "⚠️ <b>Content warning: trafficking</b>\n\n<tg-spoiler><b>Fish") || !strings.HasSuffix(m.Text, "</tg-spoiler>") {
		t.Errorf("text:\n%s", m.Text)
	}
	if m.LinkPreviewOptions == nil || !m.LinkPreviewOptions.IsDisabled {
		t.Errorf("a link preview behind a content warning: %+v", m.LinkPreviewOptions)
	}
	p.Image = &post.Image{URL: "https://camaca.example/poster.png", Alt: "A poster"}
	pl := x.format(t, p)
	ph := body(t, pl).Messages[0]
	if ph.Method != "sendPhoto" || !ph.HasSpoiler || !strings.Contains(ph.Caption, "<tg-spoiler>") {
		t.Errorf("photo %+v, want sendPhoto with has_spoiler and the caption behind a spoiler", ph)
	}
	if !strings.Contains(strings.Join(pl.Warnings, "\n"), "no alt text") {
		t.Errorf("no warning that Telegram shows no alt text: %q", pl.Warnings)
	}
}

// A text longer than a caption goes out as the photo with the opening,
// then the rest as a silent reply to it: every word once, each message
// within its limit after entity parsing.
func TestPhotoWithLongTextSplitsIntoAReply(t *testing.T) {
	t.Parallel()
	x := setup(t)
	p := vigil()
	p.ContentWarning = "trafficking"
	var words []string
	for i := range 300 {
		words = append(words, "w"+strings.Repeat("x", i%7)+"&"+string(rune('a'+i%26)))
	}
	p.Body = strings.Join(words, " ")
	file := filepath.Join(t.TempDir(), "poster.png")
	if err := os.WriteFile(file, tinyPNG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Image = &post.Image{File: file, Alt: "A poster"}
	pl := x.format(t, p)
	msgs := body(t, pl).Messages
	if len(msgs) != 2 || msgs[0].Method != "sendPhoto" || msgs[1].Method != "sendMessage" {
		t.Fatalf("messages %+v, want a photo and a reply", msgs)
	}
	// The reply is rate-limited: the next attempt sends only the reply.
	x.fake.RateLimitAfter(1, 1, 2)
	l := &memLedger{}
	_, err := x.send(pl, channels.Delivery{PostID: p.ID, Channel: "telegram", Attempt: 1, Ledger: l})
	if kind, wait := channels.Classify(err); kind != channels.KindRateLimited || wait != 2*time.Second || len(l.parts) != 1 {
		t.Fatalf("the reply rate-limited: %s after %s with %d parts recorded: %v", kind, wait, len(l.parts), err)
	}
	r, err := x.send(pl, channels.Delivery{PostID: p.ID, Channel: "telegram", Attempt: 2, Ledger: l})
	if err != nil {
		t.Fatal(err)
	}
	sent := x.fake.Messages()
	if len(sent) != 2 || !sent[0].Photo || !sent[0].Spoiler || sent[1].ReplyTo != sent[0].ID || !sent[1].Silent {
		t.Fatalf("the channel holds %+v, want the blurred photo and a silent reply to it", sent)
	}
	if r.RemoteURL != "https://t.me/camaca_news/"+itoa(sent[0].ID) {
		t.Errorf("receipt %+v, want the photo's t.me link", r)
	}
	all := sent[0].Text + " " + sent[1].Text
	for _, w := range words {
		if strings.Count(all, w+" ")+strings.Count(all, w+"\n")+strings.Count(all, w+"…") < 1 {
			t.Errorf("word %q is missing from the two messages", w)
			break
		}
	}
	if n := len([]rune(sent[0].Text)); n > 1024 {
		t.Errorf("caption of %d characters", n)
	}
	for i, m := range sent {
		if !strings.HasPrefix(m.Text, "⚠️ Content warning: trafficking") {
			t.Errorf("message %d does not open with the warning: %.80q", i+1, m.Text)
		}
	}
}

// A 429 waits exactly what Telegram's parameters.retry_after says; a 400
// carries Telegram's description; a 403 says what to do.
func TestErrorsAsTelegramWordsThem(t *testing.T) {
	t.Parallel()
	x := setup(t)
	pl := x.format(t, vigil())
	x.fake.RateLimit(1, 13)
	_, err := x.send(pl, channels.Delivery{PostID: "md:vigil", Channel: "telegram", Attempt: 1})
	if kind, wait := channels.Classify(err); kind != channels.KindRateLimited || wait != 13*time.Second {
		t.Errorf("429: %s after %s, want rate-limited for exactly 13s: %v", kind, wait, err)
	}

	other := *x
	other.cfg.ChatID = "@nobody_here"
	other.s, _ = telegram.NewSender(other.cfg, channels.Env{})
	_, err = other.send(pl, channels.Delivery{PostID: "md:vigil", Channel: "telegram", Attempt: 1})
	if kind, _ := channels.Classify(err); kind != channels.KindPermanent || !strings.Contains(err.Error(), "Bad Request: chat not found") {
		t.Errorf("400: %s: %v, want permanent with Telegram's description", kind, err)
	}

	x.fake.mu.Lock()
	x.fake.member = nil // the bot was removed from the channel
	x.fake.mu.Unlock()
	x.fake.kick()
	_, err = x.send(pl, channels.Delivery{PostID: "md:vigil", Channel: "telegram", Attempt: 1})
	if kind, _ := channels.Classify(err); kind != channels.KindPermanent || !channels.IsRefused(err) || !strings.Contains(err.Error(), "bot was kicked") || !strings.Contains(err.Error(), "as an administrator") {
		t.Errorf("403: %s: %v, want permanent and refused (the Channels page shows it), saying to add the bot again", kind, err)
	}
	if strings.Contains(err.Error(), fakeToken) {
		t.Error("the error holds the token")
	}
}

// A send whose answer was lost is ambiguous, and the next attempt does
// not send blindly: it asks a person to check the channel.
func TestLostAnswerIsNotSentAgain(t *testing.T) {
	t.Parallel()
	x := setup(t)
	pl := x.format(t, vigil())
	ctx, cancel := context.WithCancel(context.Background())
	x.fake.onSend(cancel) // the answer never arrives
	_, err := x.s.Send(ctx, channels.Delivery{PostID: "md:vigil", Channel: "telegram", Attempt: 1, Ledger: &memLedger{}}, pl)
	if kind, _ := channels.Classify(err); kind != channels.KindAmbiguous {
		t.Fatalf("lost answer: %s: %v, want ambiguous", kind, err)
	}
	x.fake.onSend(nil)
	_, err = x.send(pl, channels.Delivery{PostID: "md:vigil", Channel: "telegram", Attempt: 2, PreviousUnknown: true})
	if kind, _ := channels.Classify(err); kind != channels.KindPermanent || !strings.Contains(err.Error(), "unknown: check the channel") {
		t.Errorf("retry after the lost answer: %s: %v, want it to stop for a person", kind, err)
	}
	if n := len(x.fake.Messages()); n != 1 {
		t.Errorf("the channel holds %d messages, want the 1 whose answer was lost", n)
	}
	if _, ok := any(x.s).(channels.BlindSender); !ok {
		t.Error("the sender is not a channels.BlindSender: the engine would retry it blindly")
	}
}

// A correction edits the caption of a photo and the text of its reply;
// the same correction again changes nothing; a message past Telegram's
// 48 hours cannot be deleted and the error says so.
func TestCorrectPhotoAndWithdrawLimits(t *testing.T) {
	t.Parallel()
	x := setup(t)
	p := vigil()
	file := filepath.Join(t.TempDir(), "poster.png")
	if err := os.WriteFile(file, tinyPNG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Image = &post.Image{File: file}
	l := &memLedger{}
	if _, err := x.send(x.format(t, p), channels.Delivery{PostID: p.ID, Channel: "telegram", Attempt: 1, Ledger: l}); err != nil {
		t.Fatal(err)
	}
	p.Title = "Corrected vigil"
	corr := channels.Correction{PostID: p.ID, Channel: "telegram", Revision: 1, Parts: l.parts}
	ctx := context.Background()
	for round, want := range []channels.Outcome{channels.OutcomeEdited, channels.OutcomeUnchanged} {
		res, err := x.s.Correct(ctx, corr, x.format(t, p))
		if err != nil || len(res) != 1 || res[0].Outcome != want {
			t.Fatalf("correction %d: %+v, %v; want %s", round+1, res, err, want)
		}
	}
	if m := x.fake.Messages()[0]; !strings.HasPrefix(m.Text, "Corrected vigil") || m.Edits != 1 {
		t.Errorf("the photo's caption reads %q after %d edits", m.Text, m.Edits)
	}
	first := x.fake.Messages()[0].ID
	x.fake.mu.Lock()
	x.fake.tooOld[first] = true
	x.fake.mu.Unlock()
	_, err := x.s.Withdraw(ctx, channels.Withdrawal{PostID: p.ID, Channel: "telegram", Parts: l.parts})
	if kind, _ := channels.Classify(err); kind != channels.KindPermanent || !strings.Contains(err.Error(), "48 hours") {
		t.Errorf("deleting an old message: %s: %v, want permanent naming the 48 hours", kind, err)
	}
}

// Connecting checks the bot, the channel and the bot's rights there, and
// names what it lacks.
func TestCheckConnection(t *testing.T) {
	t.Parallel()
	x := setup(t)
	env := channels.Env{}
	conn := channels.Connection{Instance: "telegram", Values: map[string]string{"bot_token": fakeToken, "chat_id": "@" + fakeChatName}}
	got, err := telegram.Provider{}.CheckConnection(context.Background(), env, withAPI(conn, x.fake))
	if err != nil || got != "@"+fakeBotName+" in CAMACA news" {
		t.Fatalf("CheckConnection: %q, %v", got, err)
	}
	x.fake.mu.Lock()
	x.fake.member = map[string]any{"status": "administrator", "can_post_messages": true}
	x.fake.mu.Unlock()
	_, err = telegram.Provider{}.CheckConnection(context.Background(), env, withAPI(conn, x.fake))
	var ce *channels.ConnectError
	if !errors.As(err, &ce) || ce.Field != "chat_id" || !strings.Contains(ce.Reason, "edit messages") || !strings.Contains(ce.Reason, "delete messages") {
		t.Errorf("a bot without edit and delete rights: %v", err)
	}
	conn.Values["bot_token"] = "123456789:AAE-notTheRightTokenAtAll_98765"
	_, err = telegram.Provider{}.CheckConnection(context.Background(), env, withAPI(conn, x.fake))
	if !errors.As(err, &ce) || ce.Field != "bot_token" {
		t.Errorf("a wrong token: %v", err)
	}
}

// The preview card shows the HTML as Telegram does: a spoiler, a link, the
// photo blurred, the caption's count against 1,024.
func TestPreviewCard(t *testing.T) {
	t.Parallel()
	x := setup(t)
	p := vigil()
	p.ContentWarning = "trafficking"
	p.Image = &post.Image{URL: "https://camaca.example/poster.png", Alt: "A poster"}
	section := "bot_token: \"\"\n"
	_, insts, err := channels.NewRegistry(telegram.Provider{}).Parse("c.yaml", []byte("channels:\n  telegram:\n    enabled: true\n    "+section), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	card := insts[0].PreviewCard(x.format(t, p))
	if len(card.Messages) != 1 {
		t.Fatalf("card %+v", card)
	}
	m := card.Messages[0]
	js, _ := json.Marshal(m.Text)
	if m.Limit != 1024 || len(m.Images) != 1 || !m.Images[0].Spoiler || !strings.Contains(string(js), `"spoiler"`) || !strings.Contains(string(js), `"https://camaca.example/map"`) {
		t.Errorf("card message %+v\n%s", m, js)
	}
}

// withAPI points a connection at the fake.
func withAPI(c channels.Connection, f *fakeAPI) channels.Connection {
	c.Values["api_url"] = f.srv.URL
	return c
}

// A long content warning and many tags are bounded: the text and a
// photo's caption always keep room.
func TestLongWarningAndTagsLeaveRoom(t *testing.T) {
	t.Parallel()
	x := setup(t)
	p := vigil()
	p.ContentWarning = strings.Repeat("very long warning ", 200)
	for i := range 200 {
		p.Tags = append(p.Tags, "tag"+itoa(int64(i)))
	}
	p.Image = &post.Image{URL: "https://camaca.example/poster.png"}
	spec := loadBotAPI(t)
	for i, m := range body(t, x.format(t, p)).Messages {
		v, err := parseHTML(m.Caption+m.Text, spec)
		if err != nil || !strings.Contains(v, "Fish & <Chips>") && i == 0 {
			t.Errorf("message %d: %q, %v", i+1, v, err)
		}
		if limit := map[bool]int{true: 1024, false: 4096}[m.Method == "sendPhoto"]; len(utf16Of(v)) > limit {
			t.Errorf("message %d is %d long, over %d", i+1, len(utf16Of(v)), limit)
		}
	}
}

// Whatever Markdown a post holds, every message is HTML Telegram parses,
// within its limit after entity parsing.
func TestEveryMarkdownParses(t *testing.T) {
	t.Parallel()
	x := setup(t)
	spec := loadBotAPI(t)
	bodies := []string{
		"# Heading\n\nText with `code & <tags>` and **bold *nested italic* bold**.",
		"```go\nif a < b && c > d {\n\treturn \"x\"\n}\n```\n\nAfter the code.",
		"> A quote\n> > nested quote with [a link](https://camaca.example/a?x=1&y=\"2\")\n\nAfter.",
		"- one\n- two\n  1. inner **bold**\n  2. inner ~~struck~~\n- three",
		"<div>raw <b>html</b></div>\n\nA ![picture](https://camaca.example/p.png) and <https://camaca.example/auto>.",
		"Emoji 😀👩‍👩‍👧 and accents é, a tab\tand &amp; entities &lt;not a tag&gt;.",
		strings.Repeat("*a ~~b ", 40) + "deep" + strings.Repeat(" c~~ d*", 40),
		strings.Repeat("Long paragraph with [links](https://camaca.example/l) and **bold words** that go on. ", 120),
	}
	for i, b := range bodies {
		for _, cw := range []string{"", "violence"} {
			for _, img := range []bool{false, true} {
				p := vigil()
				p.Body, p.ContentWarning = b, cw
				if img {
					p.Image = &post.Image{URL: "https://camaca.example/poster.png"}
				}
				for j, m := range body(t, x.format(t, p)).Messages {
					html := m.Text + m.Caption
					v, err := parseHTML(html, spec)
					limit := map[bool]int{true: 1024, false: 4096}[m.Method == "sendPhoto"]
					if err != nil || len(utf16Of(v)) > limit || len(utf16Of(v)) == 0 {
						t.Errorf("body %d (cw %q, image %v) message %d: %d units, %v:\n%s", i, cw, img, j+1, len(utf16Of(v)), err, html)
					}
				}
			}
		}
	}
}

// Lists get bullets or numbers, a nested list indented; quotes and code
// blocks are Telegram's own.
func TestFormatBlocks(t *testing.T) {
	t.Parallel()
	x := setup(t)
	p := vigil()
	p.Body = "- one\n- two\n  1. inner\n\n> quoted\n\n```\nx < y\n```"
	text := body(t, x.format(t, p)).Messages[0].Text
	for _, want := range []string{"• one\n• two\n   1. inner", "<blockquote>quoted</blockquote>", "<pre>x &lt; y</pre>"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}
