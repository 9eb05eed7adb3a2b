package mastodon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/internal/testpeers/mastodonfake"
	"github.com/crierhq/crier/post"
)

// ledger is an in-memory channels.Ledger that can be told to fail.
type ledger struct {
	mu    sync.Mutex
	parts []channels.Part
	fail  error
}

func (l *ledger) Parts(context.Context) ([]channels.Part, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]channels.Part(nil), l.parts...), nil
}

func (l *ledger) SavePart(_ context.Context, p channels.Part) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.parts = append(l.parts, p)
	return nil
}

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestSender(t *testing.T, srv *mastodonfake.Server, cfg Config, hc *http.Client) (*Formatter, *Sender) {
	t.Helper()
	cfg.Instance = srv.URL
	if !cfg.Token.IsSet() {
		cfg.Token = secret.Secret(srv.Token())
	}
	if hc == nil {
		hc = srv.Client()
	}
	// Image servers in these tests run on 127.0.0.1: allow it, as an
	// intranet setup would.
	content := contentfetch.New(contentfetch.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	return newTestSenderEnv(t, srv, cfg, channels.Env{HTTPClient: hc, Content: content, DataDir: t.TempDir()})
}

func newTestSenderEnv(t *testing.T, srv *mastodonfake.Server, cfg Config, env channels.Env) (*Formatter, *Sender) {
	t.Helper()
	cfg.Instance = srv.URL
	if !cfg.Token.IsSet() {
		cfg.Token = secret.Secret(srv.Token())
	}
	if env.HTTPClient == nil {
		env.HTTPClient = srv.Client()
	}
	f, s, err := New(context.Background(), cfg, env)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	snd := s.(*Sender)
	snd.now = func() time.Time { return fixedNow }
	snd.pollInterval = time.Millisecond
	return f.(*Formatter), snd
}

func longPost() post.Post {
	return post.Post{
		ID: "md:long", Title: "Call to Action", Link: link, ContentWarning: "child trafficking",
		Body: strings.Repeat("The number of child trafficking victims identified worldwide had more than quadrupled. ", 12),
		Tags: []string{"child trafficking"},
	}
}

func TestNewReadsInstanceLimits(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 1000, CharactersReservedPerURL: 30})
	f, _ := newTestSender(t, srv, Config{}, nil)
	if got := f.limits(); got.MaxCharacters != 1000 || got.CharactersReservedPerURL != 30 || got.CountRunes || got.DescriptionLimit != 1500 {
		t.Errorf("limits = %+v", got)
	}
	if srv.Requests("GET /api/v2/instance") != 1 {
		t.Errorf("v2 not asked")
	}

	old := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 700, NoV2Instance: true})
	f, _ = newTestSender(t, old, Config{}, nil)
	if got := f.limits(); got.MaxCharacters != 700 {
		t.Errorf("v1 fallback: limits = %+v", got)
	}
}

func TestNewFallsBackWithoutInstance(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 900})
	dir := t.TempDir()
	cfg := Config{Instance: srv.URL, Token: secret.Secret(srv.Token()), MaxCharacters: 450}
	// First start caches the limits on disk.
	if _, _, err := New(context.Background(), cfg, channels.Env{HTTPClient: srv.Client(), DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	f, _, err := New(context.Background(), cfg, channels.Env{HTTPClient: srv.Client(), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.(*Formatter).limits().MaxCharacters; got != 900 {
		t.Errorf("with the instance down and a cache: %d, want the cached 900", got)
	}
	f, _, err = New(context.Background(), cfg, channels.Env{HTTPClient: srv.Client(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.(*Formatter).limits().MaxCharacters; got != 450 {
		t.Errorf("with the instance down and no cache: %d, want the configured 450", got)
	}
	if _, _, err := New(context.Background(), Config{Instance: srv.URL}, channels.Env{}); err == nil {
		t.Error("New without a token succeeded")
	}
}

func TestSendThread(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 200})
	f, s := newTestSender(t, srv, Config{Thread: true, Visibility: "unlisted", Language: "en"}, nil)
	pl, err := f.Format(longPost())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pl.Body.(Statuses)); n < 3 {
		t.Fatalf("only %d parts", n)
	}
	l := &ledger{}
	d := channels.Delivery{PostID: "md:long", Channel: Name, Attempt: 1, Ledger: l}
	rc, err := s.Send(context.Background(), d, pl)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Statuses()
	want := pl.Body.(Statuses)
	if len(got) != len(want) {
		t.Fatalf("posted %d statuses, want %d", len(got), len(want))
	}
	for i, st := range got {
		if st.Text != want[i].Status || st.SpoilerText != "child trafficking" || st.Visibility != "unlisted" || st.Language != "en" {
			t.Errorf("status %d: %+v", i+1, st)
		}
		if st.IdempotencyKey != d.IdempotencyKey(i) {
			t.Errorf("status %d: Idempotency-Key %q, want %q", i+1, st.IdempotencyKey, d.IdempotencyKey(i))
		}
		if i > 0 && st.InReplyToID != got[i-1].ID {
			t.Errorf("status %d replies to %q, want %q", i+1, st.InReplyToID, got[i-1].ID)
		}
		if l.parts[i].Index != i || l.parts[i].RemoteID != st.ID {
			t.Errorf("ledger part %d = %+v", i, l.parts[i])
		}
	}
	if rc.RemoteID != got[0].ID || !strings.HasSuffix(rc.RemoteURL, got[0].ID) {
		t.Errorf("receipt %+v", rc)
	}
	// Sending again with the full ledger posts nothing.
	if _, err := s.Send(context.Background(), d, pl); err != nil || len(srv.Statuses()) != len(want) {
		t.Errorf("second send: %v, %d statuses", err, len(srv.Statuses()))
	}
}

func TestSendResumesThreadFromLedger(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 200})
	f, s := newTestSender(t, srv, Config{Thread: true}, nil)
	pl, _ := f.Format(longPost())
	n := len(pl.Body.(Statuses))
	l := &ledger{}
	d := channels.Delivery{PostID: "md:long", Channel: Name, Attempt: 1, Ledger: l}
	// Part 1 goes out, part 2 meets a server error: the retry posts from
	// part 2 on, replying to part 1.
	if _, err := s.Send(context.Background(), d, channels.Payload{Body: pl.Body.(Statuses)[:1]}); err != nil {
		t.Fatal(err)
	}
	srv.FailNext("POST", "/api/v1/statuses", mastodonfake.Response{Status: 503, Body: `{"error":"Service Unavailable"}`})
	_, err := s.Send(context.Background(), d, pl)
	// The fake refused without creating the status, but a real 503 from a
	// proxy may come after the server created it: the retry checks first.
	if k, _ := channels.Classify(err); k != channels.KindAmbiguous {
		t.Fatalf("503: %v (%v), want ambiguous", err, k)
	}
	d.Attempt = 2
	if _, err := s.Send(context.Background(), d, pl); err != nil {
		t.Fatal(err)
	}
	got := srv.Statuses()
	if len(got) != n {
		t.Fatalf("%d statuses, want %d", len(got), n)
	}
	if got[1].InReplyToID != got[0].ID {
		t.Errorf("resumed part replies to %q, want %q", got[1].InReplyToID, got[0].ID)
	}
}

func TestSendLostResponseDoesNotDuplicate(t *testing.T) {
	t.Parallel()
	for _, honoursKey := range []bool{true, false} {
		srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 200, IgnoreIdempotencyKey: !honoursKey})
		f, s := newTestSender(t, srv, Config{Thread: true}, nil)
		pl, _ := f.Format(longPost())
		n := len(pl.Body.(Statuses))
		l := &ledger{}
		d := channels.Delivery{PostID: "md:long", Channel: Name, Attempt: 1, Ledger: l}
		// The second part is created but its answer is lost.
		s.Send(context.Background(), d, channels.Payload{Body: pl.Body.(Statuses)[:1]})
		srv.LoseNextResponse("POST", "/api/v1/statuses")
		_, err := s.Send(context.Background(), d, pl)
		if k, _ := channels.Classify(err); k != channels.KindAmbiguous {
			t.Fatalf("lost response: %v (%v), want ambiguous", err, k)
		}
		if len(srv.Statuses()) != 2 || len(l.parts) != 1 {
			t.Fatalf("after the lost response: %d statuses, %d recorded", len(srv.Statuses()), len(l.parts))
		}
		d.Attempt, d.PreviousUnknown = 2, true
		if _, err := s.Send(context.Background(), d, pl); err != nil {
			t.Fatal(err)
		}
		got := srv.Statuses()
		if len(got) != n {
			t.Errorf("honours key %v: %d statuses, want %d (a duplicate?)", honoursKey, len(got), n)
		}
		if l.parts[1].RemoteID != got[1].ID {
			t.Errorf("the found status was not recorded: %+v", l.parts)
		}
		if srv.Requests("GET /api/v1/accounts/{id}/statuses") != 1 {
			t.Errorf("recent statuses read %d times", srv.Requests("GET /api/v1/accounts/{id}/statuses"))
		}
	}
}

func TestSendLedgerFailureIsAmbiguous(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{})
	f, s := newTestSender(t, srv, Config{}, nil)
	pl, _ := f.Format(post.Post{ID: "x", Title: "Hello", Link: link})
	_, err := s.Send(context.Background(), channels.Delivery{PostID: "x", Channel: Name, Ledger: &ledger{fail: errors.New("disk full")}}, pl)
	if k, _ := channels.Classify(err); k != channels.KindAmbiguous || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v (%v)", err, k)
	}
}

func TestSendErrorClasses(t *testing.T) {
	t.Parallel()
	reset := fixedNow.Add(90 * time.Second)
	tests := []struct {
		name  string
		setup func(*mastodonfake.Server)
		token string
		want  channels.Kind
		wait  time.Duration
	}{
		{"401", nil, "wrong-token", channels.KindPermanent, 0},
		{"410", func(s *mastodonfake.Server) {
			s.FailNext("POST", "/api/v1/statuses", mastodonfake.Response{Status: 410, Body: `{"error":"Your login is currently disabled"}`})
		}, "", channels.KindPermanent, 0},
		{"422", func(s *mastodonfake.Server) {
			s.FailNext("POST", "/api/v1/statuses", mastodonfake.Response{Status: 422, Body: `{"error":"Validation failed: Text character limit of 500 exceeded"}`})
		}, "", channels.KindPermanent, 0},
		{"503", func(s *mastodonfake.Server) {
			s.FailNext("POST", "/api/v1/statuses", mastodonfake.Response{Status: 503, Body: `{"error":"unavailable"}`})
		}, "", channels.KindAmbiguous, 0},
		{"429", func(s *mastodonfake.Server) { s.RateLimited("POST", "/api/v1/statuses", reset) }, "", channels.KindRateLimited, 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mastodonfake.New(t, mastodonfake.Options{})
			cfg := Config{}
			if tt.token != "" {
				cfg.Token = secret.Secret(tt.token)
			}
			f, s := newTestSender(t, srv, cfg, nil)
			if tt.setup != nil {
				tt.setup(srv)
			}
			pl, _ := f.Format(post.Post{ID: "x", Title: "Hello", Link: link})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := s.Send(ctx, channels.Delivery{PostID: "x", Channel: Name, Ledger: &ledger{}}, pl)
			k, wait := channels.Classify(err)
			if k != tt.want || wait != tt.wait {
				t.Errorf("err = %v: %v after %v, want %v after %v", err, k, wait, tt.want, tt.wait)
			}
			if err != nil && strings.Contains(err.Error(), srv.Token()) {
				t.Errorf("the error shows the token: %v", err)
			}
			if n := srv.Requests("POST /api/v1/statuses"); n != 1 {
				t.Errorf("%d POSTs: go-mastodon retried by itself", n)
			}
		})
	}
	t.Run("network", func(t *testing.T) {
		srv := mastodonfake.New(t, mastodonfake.Options{})
		f, s := newTestSender(t, srv, Config{}, nil)
		pl, _ := f.Format(post.Post{ID: "x", Title: "Hello", Link: link})
		srv.Close()
		_, err := s.Send(context.Background(), channels.Delivery{PostID: "x", Channel: Name, Ledger: &ledger{}}, pl)
		if k, _ := channels.Classify(err); k != channels.KindTemporary {
			t.Errorf("connection refused: %v (%v), want temporary", err, k)
		}
	})
}

func TestSendStopsWhenRateLimitRunsOut(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 200})
	f, s := newTestSender(t, srv, Config{Thread: true}, nil)
	pl, _ := f.Format(longPost())
	srv.SetRateLimit(0, fixedNow.Add(5*time.Minute)) // the first POST uses the last request
	l := &ledger{}
	_, err := s.Send(context.Background(), channels.Delivery{PostID: "md:long", Channel: Name, Ledger: l}, pl)
	k, wait := channels.Classify(err)
	if k != channels.KindRateLimited || wait != 5*time.Minute || len(l.parts) != 1 {
		t.Errorf("err = %v (%v after %v), %d parts recorded", err, k, wait, len(l.parts))
	}
}

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{200, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSendImage(t *testing.T) {
	t.Parallel()
	data := pngBytes(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.png":
			w.Write(data)
		case "/huge.png":
			w.Write(make([]byte, maxImageBytes+10))
		default:
			http.NotFound(w, r)
		}
	}))
	defer images.Close()
	file := filepath.Join(t.TempDir(), "b.png")
	os.WriteFile(file, data, 0o644)

	for _, img := range []*post.Image{{URL: images.URL + "/a.png", Alt: "A poster"}, {File: file, Alt: "A poster"}} {
		srv := mastodonfake.New(t, mastodonfake.Options{MediaPolls: 2})
		f, s := newTestSender(t, srv, Config{}, nil)
		pl, err := f.Format(post.Post{ID: "x", Title: "Hello", Link: link, Image: img, ContentWarning: "cw"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(context.Background(), channels.Delivery{PostID: "x", Channel: Name, Ledger: &ledger{}}, pl); err != nil {
			t.Fatal(err)
		}
		st := srv.Statuses()
		if len(st) != 1 || len(st[0].MediaIDs) != 1 || !st[0].Sensitive {
			t.Fatalf("statuses: %+v", st)
		}
		m, _ := srv.MediaByID(st[0].MediaIDs[0])
		if m.Description != "A poster" || m.ContentType != "image/png" || m.Size != len(data) || !m.Attached {
			t.Errorf("media: %+v", m)
		}
		if n := srv.Requests("GET /api/v1/media/{id}"); n != 3 {
			t.Errorf("polled %d times, want 3 (206, 206, 200)", n)
		}
	}

}

// An image that cannot be had never stops the toot: it goes out without
// it, and the receipt says why.
func TestSendWithoutImageThatCannotBeFetched(t *testing.T) {
	data := pngBytes(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge.png":
			w.Write(make([]byte, maxImageBytes+10))
		case "/page.png":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<!doctype html><title>Not found</title>"))
		case "/ok.png":
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	}))
	defer images.Close()
	notImage := filepath.Join(t.TempDir(), "notes.png")
	os.WriteFile(notImage, []byte("just some text"), 0o644)
	for _, tc := range []struct {
		img  post.Image
		want string
	}{
		{post.Image{URL: images.URL + "/missing.png"}, "404 Not Found"},
		{post.Image{URL: images.URL + "/huge.png"}, "over the limit"},
		{post.Image{URL: images.URL + "/page.png"}, "not a picture"},
		{post.Image{File: filepath.Join(t.TempDir(), "gone.png")}, "does not exist"},
		{post.Image{File: notImage}, "not a picture"},
	} {
		srv := mastodonfake.New(t, mastodonfake.Options{})
		f, s := newTestSender(t, srv, Config{}, nil)
		tc.img.Alt = "A chart"
		pl, _ := f.Format(post.Post{ID: "x", Title: "Hello", Link: link, Image: &tc.img})
		r, err := s.Send(context.Background(), channels.Delivery{PostID: "x", Channel: Name, Ledger: &ledger{}}, pl)
		if err != nil {
			t.Errorf("%+v: %v; want the toot posted without the image", tc.img, err)
			continue
		}
		st := srv.Statuses()
		if len(st) != 1 || len(st[0].MediaIDs) != 0 {
			t.Errorf("%+v: statuses %+v, want one without media", tc.img, st)
		}
		if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "image left out") || !strings.Contains(r.Notes[0], tc.want) {
			t.Errorf("%+v: notes %q, want one saying %q", tc.img, r.Notes, tc.want)
		}
	}
}

// Issue 10: an image URL from content that points at the machine itself
// (or a name for it, or a redirect to it) is never fetched.
func TestSendRefusesImagesOnPrivateAddresses(t *testing.T) {
	data := pngBytes(t)
	var hits atomic.Int32
	// The internal service listens on 127.0.0.2, so that allowing 127.0.0.1
	// (where the redirector is) does not allow it.
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(data)
	}))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	internal.Listener.Close()
	internal.Listener = ln
	internal.Start()
	defer internal.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/secret.png", http.StatusFound)
	}))
	defer redirector.Close()
	srv := mastodonfake.New(t, mastodonfake.Options{})
	// The daemon's default: no allow-list.
	f, s := newTestSenderEnv(t, srv, Config{}, channels.Env{DataDir: t.TempDir()})
	for i, u := range []string{
		internal.URL + "/a.png",
		"http://localhost:" + internal.URL[strings.LastIndex(internal.URL, ":")+1:] + "/a.png",
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://127.0.0.1:6379/", // the enclosure: a local Redis
	} {
		id := fmt.Sprintf("p%d", i)
		pl, _ := f.Format(post.Post{ID: id, Title: "Hello " + id, Link: link, Image: &post.Image{URL: u, Alt: "x"}})
		r, err := s.Send(context.Background(), channels.Delivery{PostID: id, Channel: Name, Ledger: &ledger{}}, pl)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "not public") {
			t.Errorf("%s: notes %q, want the refusal", u, r.Notes)
		}
	}
	// Through a redirect from an allowed server.
	allowRedirector := contentfetch.New(contentfetch.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	f, s = newTestSenderEnv(t, srv, Config{}, channels.Env{DataDir: t.TempDir(), Content: allowRedirector})
	pl, _ := f.Format(post.Post{ID: "r", Title: "Redirected", Link: link, Image: &post.Image{URL: redirector.URL + "/a.png", Alt: "x"}})
	r, err := s.Send(context.Background(), channels.Delivery{PostID: "r", Channel: Name, Ledger: &ledger{}}, pl)
	if err != nil || len(r.Notes) != 1 {
		t.Errorf("redirect: %v, notes %q", err, r.Notes)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the internal server was fetched %d times", n)
	}
	if n := srv.Requests("POST /api/v2/media"); n != 0 {
		t.Errorf("%d media uploads; nothing should have been uploaded", n)
	}
	if got := len(srv.Statuses()); got != 5 {
		t.Errorf("%d statuses, want 5 (each without its image)", got)
	}
}

// The payload's JSON (as the outbox keeps it) reads back into the typed
// body and sends the same thread; a body of another channel type is refused
// for good.
func TestSendTypedPayloadFromJSON(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 200})
	f, s := newTestSender(t, srv, Config{Thread: true}, nil)
	pl, _ := f.Format(longPost())
	js, _ := json.Marshal(pl)
	var back struct{ Body Statuses }
	json.Unmarshal(js, &back)
	if _, err := s.Send(context.Background(), channels.Delivery{PostID: "md:long", Channel: Name, Ledger: &ledger{}}, channels.Payload{Body: back.Body}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Statuses()) != len(pl.Body.(Statuses)) {
		t.Errorf("%d statuses", len(srv.Statuses()))
	}
	_, err := s.Send(context.Background(), channels.Delivery{Ledger: &ledger{}}, channels.Payload{Body: otherBody{}})
	if k, _ := channels.Classify(err); k != channels.KindPermanent {
		t.Errorf("bad payload: %v (%v)", err, k)
	}
}

type otherBody struct{}

func (otherBody) ChannelType() string { return "other" }

func TestClassify(t *testing.T) {
	t.Parallel()
	s := &Sender{now: func() time.Time { return fixedNow }}
	// For a POST (not idempotent) a 5xx may follow a created status.
	for code, want := range map[int]channels.Kind{401: channels.KindPermanent, 403: channels.KindPermanent, 422: channels.KindPermanent, 404: channels.KindPermanent, 408: channels.KindTemporary, 500: channels.KindAmbiguous, 502: channels.KindAmbiguous, 201: channels.KindAmbiguous} {
		if k, _ := channels.Classify(s.classify("x", &httpStatusError{StatusCode: code}, nil, true)); k != want {
			t.Errorf("POST %d: %v, want %v", code, k, want)
		}
	}
	for code, want := range map[int]channels.Kind{500: channels.KindTemporary, 502: channels.KindTemporary, 401: channels.KindPermanent} {
		if k, _ := channels.Classify(s.classify("x", &httpStatusError{StatusCode: code}, nil, false)); k != want {
			t.Errorf("GET %d: %v, want %v", code, k, want)
		}
	}
	// A refused token is told apart, for the Channels page's "token
	// rejected on DATE"; other refusals are not about the credentials.
	for code, want := range map[int]bool{401: true, 403: true, 422: false, 404: false} {
		if got := channels.IsRefused(s.classify("x", &httpStatusError{StatusCode: code}, nil, true)); got != want {
			t.Errorf("%d: refused credentials = %v, want %v", code, got, want)
		}
	}
	for reset, want := range map[string]time.Duration{"2026-03-01T12:01:00.000Z": time.Minute, "2026-03-01T11:00:00Z": time.Second, "garbage": time.Minute} {
		if _, wait := channels.Classify(s.classify("x", &rateLimitError{reset: reset}, nil, true)); wait != want {
			t.Errorf("reset %s: wait %v, want %v", reset, wait, want)
		}
	}
}

func TestSendRefreshesLimitsDaily(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 800})
	f, s := newTestSender(t, srv, Config{}, nil)
	pl, _ := f.Format(post.Post{ID: "x", Title: "Hello", Link: link})
	d := channels.Delivery{PostID: "x", Channel: Name, Ledger: &ledger{}}
	// New read the limits at fixedNow; an hour later they are still fresh.
	s.now = func() time.Time { return fixedNow.Add(time.Hour) }
	s.limits.set(s.instance, s.limits.get(), fixedNow)
	if _, err := s.Send(context.Background(), d, pl); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests("GET /api/v2/instance"); n != 1 {
		t.Errorf("instance read %d times within a day", n)
	}
	s.now = func() time.Time { return fixedNow.Add(25 * time.Hour) }
	if _, err := s.Send(context.Background(), channels.Delivery{PostID: "y", Channel: Name, Ledger: &ledger{}}, pl); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests("GET /api/v2/instance"); n != 2 {
		t.Errorf("instance read %d times after a day, want 2", n)
	}
}

func TestSendAfterUnknownOutcomeStillPostsWhatIsMissing(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{MaxCharacters: 200, IgnoreIdempotencyKey: true})
	f, s := newTestSender(t, srv, Config{Thread: true}, nil)
	pl, _ := f.Format(longPost())
	n := len(pl.Body.(Statuses))
	// An unrelated status with the same text but another content warning
	// must not be taken for ours.
	other := pl.Body.(Statuses)[0]
	other.SpoilerText = "something else"
	s.Send(context.Background(), channels.Delivery{PostID: "other", Channel: Name, Ledger: &ledger{}}, channels.Payload{Body: Statuses{other}})
	d := channels.Delivery{PostID: "md:long", Channel: Name, Attempt: 2, PreviousUnknown: true, Ledger: &ledger{}}
	if _, err := s.Send(context.Background(), d, pl); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Statuses()); got != n+1 {
		t.Errorf("%d statuses, want %d", got, n+1)
	}
}

func TestSendConcurrently(t *testing.T) {
	t.Parallel()
	srv := mastodonfake.New(t, mastodonfake.Options{})
	f, s := newTestSender(t, srv, Config{}, nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("md:%d", i)
			pl, _ := f.Format(post.Post{ID: id, Title: "Post " + id, Link: link})
			d := channels.Delivery{PostID: id, Channel: Name, PreviousUnknown: true, Ledger: &ledger{}}
			if _, err := s.Send(context.Background(), d, pl); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(srv.Statuses()); n != 4 {
		t.Errorf("%d statuses, want 4", n)
	}
}
