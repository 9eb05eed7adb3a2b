package matrix_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/dendrite"
	"github.com/crierhq/crier/post"
)

var campaign = channels.Campaign{Name: "CAMACA", Website: "https://camaca.example"}

// connect builds the instance's formatter and sender as the daemon does,
// through net (nil: straight to the homeserver).
func (r *room) connect(t *testing.T, token string, net http.RoundTripper) (*matrix.Formatter, *matrix.Sender) {
	t.Helper()
	cfg := matrix.Config{Enabled: true, Homeserver: r.hs.URL, AccessToken: secret.Secret(token), Room: "#news:localhost"}
	s, err := matrix.NewSender(cfg, channels.Env{Campaign: campaign, HTTPClient: &http.Client{Transport: net, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return matrix.NewFormatter(cfg, campaign), s
}

type ledger struct{ parts []channels.Part }

func (l *ledger) Parts(context.Context) ([]channels.Part, error) { return l.parts, nil }
func (l *ledger) SavePart(_ context.Context, p channels.Part) error {
	l.parts = append(l.parts, p)
	return nil
}

func posterFile(t *testing.T) string {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "poster.png")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// The reader sees what the issue asks for: the text with its HTML, the
// picture with its alt text and size, the spoiler with its reason; then the
// edit, the reactions and thread reply read back as reach, and the
// redaction.
func TestTheReaderSeesThePostItsEditAndItsWithdrawal(t *testing.T) {
	t.Parallel()
	r := newRoom(t)
	f, s := r.connect(t, r.bot.Token, nil)
	ctx := context.Background()
	p := post.Post{ID: "vigil", Title: "Vigil on Friday", Link: "https://camaca.example/vigil", Tags: []string{"vigil"},
		Body:           "Bring **a candle** and [a friend](https://camaca.example/friends).\n\n<script>alert(1)</script>",
		ContentWarning: "child trafficking", Image: &post.Image{File: posterFile(t), Alt: "Candles on the town hall steps"}}
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{}
	if _, err := s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: "matrix", Attempt: 1, Ledger: l}, pl); err != nil {
		t.Fatal(err)
	}
	got := r.posted(t)
	if len(got) != 2 || len(l.parts) != 2 {
		t.Fatalf("the room shows %d messages, the ledger %d parts; want 2: %+v", len(got), len(l.parts), got)
	}
	text, img := got[0].Content, got[1].Content
	html, _ := text["formatted_body"].(string)
	for _, want := range []string{"<strong>Vigil on Friday</strong>", "Content warning: child trafficking",
		`<span data-mx-spoiler="child trafficking">Bring <strong>a candle</strong> and <a href="https://camaca.example/friends">a friend</a>.</span>`,
		`<a href="https://camaca.example/vigil">Read more</a>`} {
		if !strings.Contains(html, want) {
			t.Errorf("formatted_body lacks %s:\n%s", want, html)
		}
	}
	body, _ := text["body"].(string)
	if text["format"] != "org.matrix.custom.html" || strings.Contains(html, "script") || strings.Contains(body, "candle") || !strings.Contains(body, "child trafficking") {
		t.Errorf("text message: %v", text)
	}
	info, _ := img["info"].(map[string]any)
	url, _ := img["url"].(string)
	if img["msgtype"] != "m.image" || img["body"] != "Candles on the town hall steps" || !strings.HasPrefix(url, "mxc://localhost/") ||
		info["mimetype"] != "image/png" || info["w"] != float64(64) || info["h"] != float64(48) || info["size"] == nil {
		t.Errorf("image message: %v", img)
	}
	if relType(got[1]) != "m.thread" || relatesTo(got[1]) != got[0].ID {
		t.Errorf("behind a content warning the picture is in the thread of %s: %v", got[0].ID, img["m.relates_to"])
	}

	// The edit.
	fixed := p
	fixed.Body = "Bring **two candles**."
	fixed.Image.Alt = "Candles on the steps of the town hall"
	fpl, _ := f.Format(fixed)
	res, err := s.Correct(ctx, channels.Correction{PostID: p.ID, Channel: "matrix", Revision: 1, Parts: l.parts}, fpl)
	if err != nil || len(res) != 2 || res[0].Outcome != channels.OutcomeEdited || res[1].Outcome != channels.OutcomeEdited {
		t.Fatalf("Correct: %+v, %v", res, err)
	}
	if now, _ := r.reads(t, got[0].ID); !strings.Contains(now, "two candles") {
		t.Errorf("after the edit the reader sees %q", now)
	}
	eds := r.edits(t, got[1].ID)
	if nc, _ := eds[0].Content["m.new_content"].(map[string]any); len(eds) != 1 || nc["body"] != "Candles on the steps of the town hall" || nc["url"] != url || nc["m.relates_to"] != nil {
		t.Errorf("the picture's edit: %+v", eds)
	}

	// Reach: two reactions, one reply in the thread.
	r.react(t, got[0].ID, "🕯️")
	r.react(t, got[1].ID, "❤️")
	r.replyInThread(t, got[0].ID, "See you there")
	r.hs.Events(t, r.reader, r.id) // until /relations shows them too
	reach, err := s.ReadReach(ctx, l.parts, channels.ReachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reach.Total.Reactions != channels.CountOf(2) || reach.Total.Replies != channels.CountOf(1) || reach.Total.Likes.Known ||
		len(reach.Replies) != 1 || reach.Replies[0].Excerpt != "See you there" || reach.Replies[0].Author != r.reader.ID {
		t.Errorf("reach: %+v", reach)
	}

	// The withdrawal.
	res, err = s.Withdraw(ctx, channels.Withdrawal{PostID: p.ID, Channel: "matrix", Parts: l.parts})
	if err != nil || len(res) != 2 || res[0].Outcome != channels.OutcomeDeleted {
		t.Fatalf("Withdraw: %+v, %v", res, err)
	}
	if left := r.posted(t); len(left) != 0 { // Events waits for Dendrite to show the redactions
		t.Errorf("after the withdrawal the reader sees %+v", left)
	}
}

// A send whose answer is lost is the same event when Crier, restarted,
// sends it again: the homeserver answers the same transaction ID with the
// first event. Dendrite keeps transactions per access token: a second
// token of the same account (another device) is another scope, where only
// the search of the room (PreviousUnknown) keeps the post single.
func TestALostAnswerIsOneEventAfterARestart(t *testing.T) {
	t.Parallel()
	r := newRoom(t)
	lossy := channeltest.NewNetwork(nil, isSend)
	lossy.Inject(channeltest.Fault{Name: "lost answer", LoseAnswer: true})
	f, s := r.connect(t, r.bot.Token, lossy)
	p := post.Post{ID: "lost", Title: "Vigil on Friday", Body: "Bring a candle."}
	pl, _ := f.Format(p)
	l := &ledger{}
	d := channels.Delivery{PostID: p.ID, Channel: "matrix", Attempt: 1, Ledger: l}
	_, err := s.Send(context.Background(), d, pl)
	if kind, _ := channels.Classify(err); kind != channels.KindAmbiguous || len(l.parts) != 0 {
		t.Fatalf("the lost answer: %v (%s), %d parts recorded", err, kind, len(l.parts))
	}
	if n := len(r.posted(t)); n != 1 {
		t.Fatalf("the homeserver holds %d events, want the 1 whose answer was lost", n)
	}
	// Restarted, and even without being told the outcome was unknown.
	_, again := r.connect(t, r.bot.Token, nil)
	d.Attempt = 2
	if _, err := again.Send(context.Background(), d, pl); err != nil {
		t.Fatal(err)
	}
	got := r.posted(t)
	if len(got) != 1 || len(l.parts) != 1 || !strings.HasSuffix(l.parts[0].RemoteID, got[0].ID) {
		t.Fatalf("after the retry the room shows %d events (ledger %+v), want 1", len(got), l.parts)
	}

	// Another token: the transaction is not known there.
	other := r.hs.Login(t, r.bot)
	q := post.Post{ID: "lost-2", Title: "March on Sunday"}
	qpl, _ := f.Format(q)
	ql := &ledger{}
	if _, err := s.Send(context.Background(), channels.Delivery{PostID: q.ID, Channel: "matrix", Attempt: 1, Ledger: ql}, qpl); err != nil {
		t.Fatal(err)
	}
	_, s2 := r.connect(t, other.Token, nil)
	if _, err := s2.Send(context.Background(), channels.Delivery{PostID: q.ID, Channel: "matrix", Attempt: 2, PreviousUnknown: true, Ledger: &ledger{}}, qpl); err != nil {
		t.Fatal(err)
	}
	if got := r.posted(t); len(got) != 2 {
		t.Errorf("with another token and PreviousUnknown the room shows %d events, want 2 (one per post)", len(got))
	}
}

// A long post is a thread at the measured limit: the first message in the
// room, the rest in its thread, each within the limits; a retry after the
// last part failed, or after its answer was lost, sends only what is
// missing.
func TestALongPostIsAThread(t *testing.T) {
	t.Parallel()
	para := strings.Repeat("The vigil starts at seven at the town hall; bring a candle and a friend. ", 100)
	for _, f := range []channeltest.Fault{
		{Name: "500", Status: http.StatusInternalServerError},
		{Name: "lost answer", LoseAnswer: true},
	} {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			r := newRoom(t)
			net := channeltest.NewNetwork(nil, isSend)
			fm, s := r.connect(t, r.bot.Token, net)
			p := post.Post{ID: "long", Title: "A long report", Body: strings.Repeat(para+"\n\n", 9), Image: &post.Image{File: posterFile(t), Alt: "A chart"}}
			pl, err := fm.Format(p)
			if err != nil {
				t.Fatal(err)
			}
			msgs := pl.Body.(matrix.Body).Messages
			if len(msgs) < 3 || msgs[1].MsgType != "m.image" {
				t.Fatalf("%d messages, want the text, its picture and a thread", len(msgs))
			}
			for i, m := range msgs {
				if matrix.EncodedLen(m.FormattedBody) > matrix.MaxHTMLBytes || matrix.EncodedLen(m.Body) > matrix.MaxBodyBytes || m.InThread != (i > 1) {
					t.Errorf("message %d: %d bytes of HTML, %d of body, in thread %v", i, matrix.EncodedLen(m.FormattedBody), matrix.EncodedLen(m.Body), m.InThread)
				}
			}
			f.Nth = len(msgs)
			net.Inject(f)
			l := &ledger{}
			d := channels.Delivery{PostID: p.ID, Channel: "matrix", Attempt: 1, Ledger: l}
			_, err = s.Send(context.Background(), d, pl)
			if err == nil || len(l.parts) != len(msgs)-1 {
				t.Fatalf("the last part failed: %v, %d parts recorded", err, len(l.parts))
			}
			net.Clear()
			kind, _ := channels.Classify(err)
			d.Attempt, d.PreviousUnknown = 2, kind == channels.KindAmbiguous
			if _, err := s.Send(context.Background(), d, pl); err != nil {
				t.Fatal(err)
			}
			got := r.posted(t)
			if len(got) != len(msgs) {
				t.Fatalf("the room shows %d messages, want %d", len(got), len(msgs))
			}
			if got[1].Content["msgtype"] != "m.image" || relType(got[1]) != "" {
				t.Errorf("the picture follows the text in the room: %v", got[1].Content)
			}
			prev := got[0].ID // the fallback reply names the thread's latest event
			for _, e := range got[2:] {
				rel, _ := e.Content["m.relates_to"].(map[string]any)
				reply, _ := rel["m.in_reply_to"].(map[string]any)
				if relType(e) != "m.thread" || relatesTo(e) != got[0].ID || reply["event_id"] != prev {
					t.Errorf("%s is not in the thread of %s after %s: %v", e.ID, got[0].ID, prev, rel)
				}
				prev = e.ID
			}
		})
	}
}

// Dendrite's M_LIMIT_EXCEEDED is a wait of its retry_after_ms.
func TestRateLimitIsTheHomeserversWait(t *testing.T) {
	t.Parallel()
	hs := dendrite.Start(t, dendrite.Options{RateLimit: 1, CoolOff: 30 * time.Second})
	r := &room{hs: hs, bot: hs.NewUser(t), reader: hs.NewUser(t)}
	r.id = hs.CreateRoom(t, r.reader, "news", true)
	p := post.Post{ID: "rl", Title: "Vigil"}
	f, s := r.connect(t, r.bot.Token, nil)
	pl, _ := f.Format(p)
	if _, err := s.Send(context.Background(), channels.Delivery{PostID: p.ID, Channel: "matrix", Attempt: 1}, pl); err != nil {
		t.Fatal(err)
	}
	_, fresh := r.connect(t, r.bot.Token, nil) // joins again: Dendrite limits joins
	_, err := fresh.Send(context.Background(), channels.Delivery{PostID: "rl-2", Channel: "matrix", Attempt: 1}, pl)
	kind, wait := channels.Classify(err)
	if kind != channels.KindRateLimited || wait != 30*time.Second || !strings.Contains(err.Error(), "M_LIMIT_EXCEEDED") {
		t.Errorf("got %s after %s: %v; want rate limited for the server's 30s", kind, wait, err)
	}
}

// The console's connection check: a token, or a user and password that
// become a token; a room the bot may not post in is refused, naming it.
func TestCheckConnection(t *testing.T) {
	t.Parallel()
	r := newRoom(t)
	ctx := context.Background()
	env := channels.Env{HTTPClient: http.DefaultClient}
	check := func(values map[string]string) (string, error) {
		return matrix.Provider{}.CheckConnection(ctx, env, channels.Connection{Instance: "matrix", Values: values})
	}
	if who, err := check(map[string]string{"homeserver": r.hs.URL, "room": "#news:localhost", "access_token": r.bot.Token}); err != nil || who != r.bot.ID+" in #news:localhost" {
		t.Errorf("with a token: %q, %v", who, err)
	}
	name := strings.TrimPrefix(strings.SplitN(r.bot.ID, ":", 2)[0], "@")
	values := map[string]string{"homeserver": r.hs.URL, "room": "#news:localhost", "user": name, "password": dendrite.Password(name)}
	if who, err := check(values); err != nil || who != r.bot.ID+" in #news:localhost" || values["access_token"] == "" || values["password"] != "" || values["user"] != "" {
		t.Errorf("with a password: %q, %v; values keep %v", who, err, keys(values))
	}
	quiet := r.hs.CreateRoomWith(t, r.reader, map[string]any{"preset": "public_chat", "power_level_content_override": map[string]any{"events_default": 50}})
	for _, tc := range []struct {
		values map[string]string
		field  string
	}{
		{map[string]string{"homeserver": r.hs.URL, "room": "#news:localhost", "access_token": "syt_wrong"}, "access_token"},
		{map[string]string{"homeserver": r.hs.URL, "room": "#news:localhost", "user": name, "password": "wrong"}, "password"},
		{map[string]string{"homeserver": r.hs.URL, "room": "#nowhere:localhost", "access_token": r.bot.Token}, "room"},
		{map[string]string{"homeserver": r.hs.URL, "room": quiet, "access_token": r.bot.Token}, "room"},
		{map[string]string{"homeserver": "matrix.example.org", "room": quiet, "access_token": r.bot.Token}, "homeserver"},
	} {
		_, err := check(tc.values)
		ce, ok := err.(*channels.ConnectError)
		if !ok || ce.Field != tc.field {
			t.Errorf("%v: %v, want a problem with %s", tc.values, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), r.bot.Token) {
			t.Errorf("the error holds the token: %v", err)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
