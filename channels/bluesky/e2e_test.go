package bluesky

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
	"github.com/crierhq/crier/post"
)

// memLedger is a delivery ledger kept across attempts of one test.
type memLedger struct {
	mu    sync.Mutex
	parts []channels.Part
}

func (m *memLedger) Parts(context.Context) ([]channels.Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]channels.Part(nil), m.parts...), nil
}

func (m *memLedger) SavePart(_ context.Context, p channels.Part) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.parts = append(m.parts, p)
	return nil
}

// faultProxy stands between the sender and the real PDS; fault, when set,
// may answer a request itself (returning true) instead of the PDS.
type faultProxy struct {
	*httptest.Server
	mu    sync.Mutex
	fault func(w http.ResponseWriter, r *http.Request, forward http.Handler) bool
	calls map[string]int
}

func newFaultProxy(t *testing.T, pds string) *faultProxy {
	u, _ := url.Parse(pds)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &faultProxy{calls: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls[strings.TrimPrefix(r.URL.Path, "/xrpc/")]++
		f := p.fault
		p.mu.Unlock()
		if f != nil && f(w, r, rp) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *faultProxy) setFault(f func(w http.ResponseWriter, r *http.Request, forward http.Handler) bool) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

func (p *faultProxy) count(nsid string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[nsid]
}

// once runs f for the first request to nsid only.
func once(nsid string, f func(w http.ResponseWriter, r *http.Request, forward http.Handler)) func(http.ResponseWriter, *http.Request, http.Handler) bool {
	var done atomic.Bool
	return func(w http.ResponseWriter, r *http.Request, forward http.Handler) bool {
		if r.URL.Path != "/xrpc/"+nsid || done.Swap(true) {
			return false
		}
		f(w, r, forward)
		return true
	}
}

// loopbackContent is the guarded content client with this machine's
// loopback allowed, as tests' image servers run there.
var loopbackContent = contentfetch.New(contentfetch.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})

type pdsBundle struct {
	pds   *blueskypds.Server
	proxy *faultProxy
	acct  blueskypds.Account
	cfg   Config
}

func (b *pdsBundle) sender(t *testing.T) *Sender {
	t.Helper()
	s, err := newSender(b.cfg, channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second}, Content: loopbackContent})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *pdsBundle) posts(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range b.pds.ListRecords(t, b.acct.DID, Collection) {
		var v map[string]any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		v["_uri"], v["_cid"] = r.URI, r.CID
		out = append(out, v)
	}
	return out
}

// TestSendToPDS runs the sender against a real PDS (one for all subtests,
// one account each), with a proxy in front that loses answers or answers
// with the errors the real service gives.
func TestSendToPDS(t *testing.T) {
	pds := blueskypds.Start(t)
	setup := func(t *testing.T) *pdsBundle {
		acct := pds.NewAccount(t)
		proxy := newFaultProxy(t, pds.URL)
		return &pdsBundle{pds: pds, proxy: proxy, acct: acct, cfg: Config{
			Enabled: true, Service: proxy.URL, Handle: acct.Handle, AppPassword: secret.Secret(acct.AppPassword),
			Language: "en", Hashtags: []string{"EndChildTrafficking"},
			Labels: map[string]string{"child trafficking": "graphic-media"},
		}}
	}
	ctx := context.Background()

	t.Run("post with facets, image, label and language", func(t *testing.T) {
		b := setup(t)
		other := pds.NewAccount(t)
		img := filepath.Join(t.TempDir(), "big.png")
		writeNoisyPNG(t, img, 1800, 1500) // over 2,000,000 bytes: must be recompressed
		p := post.Post{
			ID: "md:vigil", Title: "👨‍👩‍👧‍👦 Vigil — وقفة احتجاجية 児童",
			Summary: "Join us, café́ friends 👍🏽! Thanks @" + other.Handle + " and @nobody.invalid. See https://example.org/a?b=c #Vigil",
			Link:    "https://camaca.example/news/2024/vigil-for-the-victims-of-trafficking",
			Tags:    []string{"child trafficking", "human rights"}, ContentWarning: "child trafficking",
			Image: &post.Image{File: img, Alt: "Candles on the town hall steps"}, Language: "fr",
		}
		pl, err := NewFormatter(b.cfg, channels.Campaign{}).Format(p)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: &memLedger{}}, pl)
		if err != nil {
			t.Fatal(err)
		}
		got := b.posts(t)
		if len(got) != 1 {
			t.Fatalf("%d posts, want 1", len(got))
		}
		rec := got[0]
		if rc.RemoteID != rec["_uri"] || !strings.HasSuffix(rc.RemoteID, "/"+RecordKey(p.ID, Name, 0)) {
			t.Errorf("receipt %+v, record %v", rc, rec["_uri"])
		}
		var r Record
		js, _ := json.Marshal(rec)
		_ = json.Unmarshal(js, &r)
		checkFacets(t, r.Text, r.Facets, nil)
		if !strings.HasPrefix(r.Text, "CW: child trafficking\n\n") {
			t.Errorf("text does not open with the warning: %q", r.Text)
		}
		if r.Labels == nil || len(r.Labels.Values) != 1 || r.Labels.Values[0].Val != "graphic-media" {
			t.Errorf("labels %+v", r.Labels)
		}
		if len(r.Langs) != 1 || r.Langs[0] != "fr" {
			t.Errorf("langs %v", r.Langs)
		}
		kinds := map[string][]string{}
		for _, f := range r.Facets {
			ft := f.Features[0]
			kinds[ft.Type] = append(kinds[ft.Type], ft.URI+ft.DID+ft.Tag)
		}
		if m := kinds[FeatureMention]; len(m) != 1 || m[0] != other.DID {
			t.Errorf("mention facets %v, want only %s (the unknown handle stays text)", m, other.DID)
		}
		if l := kinds[FeatureLink]; len(l) != 2 || l[1] != p.Link {
			t.Errorf("link facets %v", l)
		}
		if tg := strings.Join(kinds[FeatureTag], " "); tg != "Vigil ChildTrafficking HumanRights EndChildTrafficking" {
			t.Errorf("tag facets %q", tg)
		}
		if r.Embed == nil || r.Embed.Type != EmbedImages || len(r.Embed.Images) != 1 {
			t.Fatalf("embed %+v", r.Embed)
		}
		im := r.Embed.Images[0]
		if im.Alt != "Candles on the town hall steps" || im.Image == nil || im.Image.Size > MaxBlobBytes || im.Image.MimeType != "image/jpeg" {
			t.Errorf("image %+v %+v", im, im.Image)
		}
		if blob := b.pds.Blob(t, b.acct.DID, im.Image.Ref.Link); int64(len(blob)) != im.Image.Size {
			t.Errorf("blob is %d bytes, record says %d", len(blob), im.Image.Size)
		}
	})

	t.Run("thread with reply references", func(t *testing.T) {
		b := setup(t)
		b.cfg.Thread = true
		p := post.Post{ID: "md:long", Title: "A long report", Link: "https://camaca.example/news/report",
			Body: strings.Repeat("The number of victims is rising again, and the response is not enough. ", 15)}
		pl, err := NewFormatter(b.cfg, channels.Campaign{}).Format(p)
		if err != nil {
			t.Fatal(err)
		}
		parts := pl.Body.(Parts)
		if len(parts) < 3 {
			t.Fatalf("%d parts, want a thread", len(parts))
		}
		if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: &memLedger{}}, pl); err != nil {
			t.Fatal(err)
		}
		got := map[string]Record{}
		cids := map[string]string{}
		for _, v := range b.posts(t) {
			var r Record
			js, _ := json.Marshal(v)
			_ = json.Unmarshal(js, &r)
			got[rkeyOf(v["_uri"].(string))] = r
			cids[v["_uri"].(string)] = v["_cid"].(string)
		}
		if len(got) != len(parts) {
			t.Fatalf("%d records, want %d", len(got), len(parts))
		}
		root := "at://" + b.acct.DID + "/" + Collection + "/" + RecordKey(p.ID, Name, 0)
		for i := range parts {
			r := got[RecordKey(p.ID, Name, i)]
			checkFacets(t, r.Text, r.Facets, nil)
			if i == 0 {
				if r.Reply != nil {
					t.Errorf("part 1 replies to %+v", r.Reply)
				}
				continue
			}
			parent := "at://" + b.acct.DID + "/" + Collection + "/" + RecordKey(p.ID, Name, i-1)
			if r.Reply == nil || r.Reply.Root.URI != root || r.Reply.Parent.URI != parent || r.Reply.Root.CID != cids[root] || r.Reply.Parent.CID != cids[parent] {
				t.Errorf("part %d reply %+v, want root %s parent %s", i+1, r.Reply, root, parent)
			}
		}
	})

	t.Run("a thread resumes after the part that failed", func(t *testing.T) {
		b := setup(t)
		b.cfg.Thread = true
		p := post.Post{ID: "md:resume", Title: "Resumed", Link: "https://camaca.example/news/resume",
			Body: strings.Repeat("Every part must reply to the right post, even after a restart. ", 15)}
		pl, parts := format(t, b.cfg, p)
		if len(parts) < 3 {
			t.Fatalf("%d parts", len(parts))
		}
		var creates atomic.Int32
		b.proxy.setFault(func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
			if r.URL.Path != "/xrpc/com.atproto.repo.createRecord" || creates.Add(1) != 2 {
				return false
			}
			w.WriteHeader(http.StatusServiceUnavailable) // part 2 refused before the PDS saw it
			return true
		})
		ledger := &memLedger{}
		if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: ledger}, pl); err == nil {
			t.Fatal("the refused part went unnoticed")
		}
		if len(ledger.parts) != 1 {
			t.Fatalf("ledger %+v, want part 1 only", ledger.parts)
		}
		// A new sender (a restart: no CIDs in memory) carries on from part 2.
		b.proxy.setFault(nil)
		if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 2, PreviousUnknown: true, Ledger: ledger}, pl); err != nil {
			t.Fatal(err)
		}
		got := map[string]Record{}
		cids := map[string]string{}
		for _, v := range b.posts(t) {
			var r Record
			js, _ := json.Marshal(v)
			_ = json.Unmarshal(js, &r)
			got[v["_uri"].(string)] = r
			cids[v["_uri"].(string)] = v["_cid"].(string)
		}
		if len(got) != len(parts) {
			t.Fatalf("%d records, want %d", len(got), len(parts))
		}
		uri := func(i int) string { return "at://" + b.acct.DID + "/" + Collection + "/" + RecordKey(p.ID, Name, i) }
		for i := 1; i < len(parts); i++ {
			r := got[uri(i)]
			if r.Reply == nil || r.Reply.Root != (StrongRef{uri(0), cids[uri(0)]}) || r.Reply.Parent != (StrongRef{uri(i - 1), cids[uri(i-1)]}) {
				t.Errorf("part %d reply %+v", i+1, r.Reply)
			}
		}
	})

	t.Run("lost answer: the retry finds the post", func(t *testing.T) {
		b := setup(t)
		lose := once("com.atproto.repo.createRecord", func(w http.ResponseWriter, r *http.Request, forward http.Handler) {
			forward.ServeHTTP(httptest.NewRecorder(), r) // the PDS writes the post...
			conn, _, err := w.(http.Hijacker).Hijack()   // ...and the answer is lost
			if err == nil {
				conn.Close()
			}
		})
		p := post.Post{ID: "md:lost", Title: "Lost", Link: "https://camaca.example/news/lost"}
		pl, _ := NewFormatter(b.cfg, channels.Campaign{}).Format(p)

		// The sender reads the key back at once and finds the post.
		b.proxy.setFault(lose)
		if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: &memLedger{}}, pl); err != nil {
			t.Fatal(err)
		}
		if n := len(b.posts(t)); n != 1 {
			t.Fatalf("%d posts after a lost answer, want 1", n)
		}

		// When the read fails too, the outcome is unknown until a retry.
		p.ID = "md:lost2"
		pl, _ = NewFormatter(b.cfg, channels.Campaign{}).Format(p)
		lose = once("com.atproto.repo.createRecord", func(w http.ResponseWriter, r *http.Request, forward http.Handler) {
			forward.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		})
		b.proxy.setFault(func(w http.ResponseWriter, r *http.Request, forward http.Handler) bool {
			if lose(w, r, forward) {
				return true
			}
			if r.URL.Path == "/xrpc/com.atproto.repo.getRecord" {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
			return false
		})
		ledger := &memLedger{}
		_, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: ledger}, pl)
		if k, _ := channels.Classify(err); k != channels.KindAmbiguous {
			t.Fatalf("lost answer classified %v: %v", k, err)
		}
		b.proxy.setFault(nil)
		// A restart: a new sender, the same ledger, an attempt told the last
		// one ended ambiguously.
		rc, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 2, PreviousUnknown: true, Ledger: ledger}, pl)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(b.posts(t)); n != 2 {
			t.Fatalf("%d posts after the retry, want 2 (one per post)", n)
		}
		if rc.RemoteID == "" || len(ledger.parts) != 1 {
			t.Errorf("receipt %+v, ledger %+v", rc, ledger.parts)
		}
		// Even without being told, writing again under the same key is
		// refused and read back, not duplicated.
		if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: &memLedger{}}, pl); err != nil {
			t.Fatal(err)
		}
		if n := len(b.posts(t)); n != 2 {
			t.Fatalf("%d posts after a blind resend, want 2", n)
		}
	})

	t.Run("401 refreshes the session once", func(t *testing.T) {
		b := setup(t)
		s := b.sender(t)
		if _, err := s.cli.session(ctx); err != nil {
			t.Fatal(err)
		}
		b.proxy.setFault(once("com.atproto.repo.createRecord", func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"ExpiredToken","message":"Token has expired"}`))
		}))
		pl, _ := NewFormatter(b.cfg, channels.Campaign{}).Format(post.Post{ID: "md:refresh", Title: "Refresh"})
		if _, err := s.Send(ctx, channels.Delivery{PostID: "md:refresh", Channel: Name, Attempt: 1}, pl); err != nil {
			t.Fatal(err)
		}
		if n := b.proxy.count("com.atproto.server.refreshSession"); n != 1 {
			t.Errorf("%d refreshSession calls, want 1", n)
		}
		if n := b.proxy.count("com.atproto.server.createSession"); n != 1 {
			t.Errorf("%d createSession calls, want 1 (the refresh token worked)", n)
		}
		// A refusal that a fresh session does not fix is permanent.
		b.proxy.setFault(func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
			if r.URL.Path != "/xrpc/com.atproto.repo.createRecord" {
				return false
			}
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"AuthenticationRequired","message":"Invalid identifier or password"}`))
			return true
		})
		_, err := s.Send(ctx, channels.Delivery{PostID: "md:refresh2", Channel: Name, Attempt: 1}, pl)
		if k, _ := channels.Classify(err); k != channels.KindPermanent {
			t.Errorf("second 401 classified %v: %v", k, err)
		}
	})

	t.Run("429 snoozes until ratelimit-reset", func(t *testing.T) {
		b := setup(t)
		reset := time.Now().Add(90 * time.Second).Unix()
		b.proxy.setFault(once("com.atproto.repo.createRecord", func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
			w.Header().Set("Ratelimit-Limit", "5000")
			w.Header().Set("Ratelimit-Remaining", "0")
			w.Header().Set("Ratelimit-Reset", strconv64(reset))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}`))
		}))
		pl, _ := NewFormatter(b.cfg, channels.Campaign{}).Format(post.Post{ID: "md:rl", Title: "Rate limited"})
		_, err := b.sender(t).Send(ctx, channels.Delivery{PostID: "md:rl", Channel: Name, Attempt: 1}, pl)
		k, wait := channels.Classify(err)
		if k != channels.KindRateLimited || wait < 80*time.Second || wait > 91*time.Second {
			t.Errorf("429 classified %v after %v: %v", k, wait, err)
		}
		if n := len(b.posts(t)); n != 0 {
			t.Errorf("%d posts", n)
		}
	})

	t.Run("texts at the limits are accepted as counted", func(t *testing.T) {
		b := setup(t)
		b.cfg.Hashtags = nil
		s := b.sender(t)
		texts := map[string]string{
			"300 combining graphemes":  strings.Repeat("e\u0301", 300),
			"3,000 bytes of ZWJ emoji": strings.Repeat("👨‍👩‍👧‍👦", 120),
		}
		for name, prefix := range hardPrefixes {
			texts["shortened "+name] = strings.Repeat(prefix+" ", 200)
		}
		i := 0
		for name, text := range texts {
			i++
			id := fmt.Sprintf("md:limit%d", i)
			pl, parts := format(t, b.cfg, post.Post{ID: id, Summary: text, Link: "https://camaca.example/news/x"})
			if g := uniseg.GraphemeClusterCount(parts[0].Record.Text); g < 250 && len(parts[0].Record.Text) < 2500 {
				t.Errorf("%s: only %d graphemes, %d bytes: not near the limit", name, g, len(parts[0].Record.Text))
			}
			if _, err := s.Send(ctx, channels.Delivery{PostID: id, Channel: Name, Attempt: 1}, pl); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})

	t.Run("card thumbnail under its own limit", func(t *testing.T) {
		b := setup(t)
		b.cfg.Embed = "card"
		img := filepath.Join(t.TempDir(), "thumb.png")
		writeNoisyPNG(t, img, 1800, 1500)
		p := post.Post{ID: "md:card", Title: "Card", Summary: "With a thumbnail", Link: "https://camaca.example/news/card", Image: &post.Image{File: img, Alt: "x"}}
		pl, _ := format(t, b.cfg, p)
		if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1}, pl); err != nil {
			t.Fatal(err)
		}
		got := b.posts(t)
		var r Record
		js, _ := json.Marshal(got[0])
		_ = json.Unmarshal(js, &r)
		if r.Embed == nil || r.Embed.External == nil || r.Embed.External.Thumb == nil || r.Embed.External.Thumb.Size > MaxThumbBytes {
			t.Fatalf("embed %+v", r.Embed)
		}
	})

	t.Run("image by URL", func(t *testing.T) {
		b := setup(t)
		img := filepath.Join(t.TempDir(), "small.png")
		writeNoisyPNG(t, img, 40, 30)
		data, _ := os.ReadFile(img)
		site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/i.png" {
				http.NotFound(w, r)
				return
			}
			w.Write(data)
		}))
		defer site.Close()
		p := post.Post{ID: "md:url", Title: "By URL", Image: &post.Image{URL: site.URL + "/i.png", Alt: "Forty by thirty"}}
		pl, _ := format(t, b.cfg, p)
		if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1}, pl); err != nil {
			t.Fatal(err)
		}
		var r Record
		js, _ := json.Marshal(b.posts(t)[0])
		_ = json.Unmarshal(js, &r)
		if r.Embed == nil || len(r.Embed.Images) != 1 || r.Embed.Images[0].Image.Size != int64(len(data)) || r.Embed.Images[0].Image.MimeType != "image/png" ||
			r.Embed.Images[0].AspectRatio == nil || *r.Embed.Images[0].AspectRatio != (AspectRatio{40, 30}) {
			t.Fatalf("embed %+v (a small PNG is uploaded as it is)", r.Embed)
		}
		// An image that can't be had never stops the post: it goes out
		// without it, and the receipt's note says why.
		p.ID, p.Image.URL = "md:url404", site.URL+"/missing.png"
		pl, _ = format(t, b.cfg, p)
		receipt, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1}, pl)
		if err != nil || receipt.RemoteID == "" {
			t.Fatalf("a missing image stopped the post: %v", err)
		}
		if len(receipt.Notes) != 1 || !strings.Contains(receipt.Notes[0], "image left out") || !strings.Contains(receipt.Notes[0], "404") {
			t.Errorf("notes %q, want why the image was left out", receipt.Notes)
		}
		// Without the allow-list the guarded client refuses the loopback
		// image server: the post goes out without the image, nothing is
		// fetched from inside the network.
		fetched := 0
		inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetched++; w.Write(data) }))
		defer inside.Close()
		s, err := newSender(b.cfg, channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		p.ID, p.Image.URL = "md:inside", inside.URL+"/i.png"
		pl, _ = format(t, b.cfg, p)
		receipt, err = s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1}, pl)
		if err != nil || fetched != 0 || len(receipt.Notes) != 1 || !strings.Contains(receipt.Notes[0], "image left out") {
			t.Fatalf("loopback image: err %v, fetched %d, notes %q", err, fetched, receipt.Notes)
		}
	})

	t.Run("lexicon errors are permanent with the server's message", func(t *testing.T) {
		b := setup(t)
		pl := channels.Payload{Channel: Name, PostID: "md:bad", Body: Parts{{Part: 1, Record: Record{Type: Collection, Text: strings.Repeat("é", 301)}}}}
		_, err := b.sender(t).Send(ctx, channels.Delivery{PostID: "md:bad", Channel: Name, Attempt: 1}, pl)
		if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "grapheme") {
			t.Errorf("301 graphemes: %v %v", k, err)
		}
	})

	t.Run("a wrong app password is permanent and names the setting", func(t *testing.T) {
		b := setup(t)
		b.cfg.AppPassword = "wrong-wrong-wrong-wrong"
		pl, _ := NewFormatter(b.cfg, channels.Campaign{}).Format(post.Post{ID: "md:pw", Title: "x"})
		_, err := b.sender(t).Send(ctx, channels.Delivery{PostID: "md:pw", Channel: Name, Attempt: 1}, pl)
		if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "app password") {
			t.Errorf("wrong password: %v %v", k, err)
		}
		if strings.Contains(err.Error(), "wrong-wrong") {
			t.Errorf("the error shows the password: %v", err)
		}
	})

	t.Run("the PDS checks record keys", func(t *testing.T) {
		b := setup(t)
		s := b.sender(t)
		sess, err := s.cli.session(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rec := Record{Type: Collection, Text: "x", CreatedAt: "2026-01-01T00:00:00.000Z"}
		if _, _, err := s.createRecord(ctx, sess.DID, "not-a-tid", rec); err == nil || !strings.Contains(err.Error(), "ecord key") {
			t.Errorf("a key that is not a TID: %v", err)
		}
		for i := range 20 {
			if _, _, err := s.createRecord(ctx, sess.DID, RecordKey("md:key", Name, i), rec); err != nil {
				t.Errorf("derived key %d refused: %v", i, err)
			}
		}
	})
}

func strconv64(n int64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// writeNoisyPNG writes a PNG that compresses badly (noise), to exercise the
// recompression path.
func writeNoisyPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(x), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if w*h > 1e6 && buf.Len() <= MaxBlobBytes {
		t.Fatalf("test image is only %d bytes", buf.Len())
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
