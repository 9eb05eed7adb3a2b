package discord

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
	"github.com/crierhq/crier/post"
)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// setupImages is setup with a content client: allowList nil means the
// daemon's default (public addresses only).
func setupImages(t *testing.T, cfg Config, allowList []netip.Prefix) (*discordfake.Server, channels.Formatter, channels.Sender) {
	t.Helper()
	fake := discordfake.New(t)
	env := channels.Env{HTTPClient: fake.Client(), Content: contentfetch.New(contentfetch.Options{Allow: allowList}),
		Campaign: channels.Campaign{Name: "Safe Passage", Website: "https://safepassage.example"}}
	f, s, err := New(context.Background(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	return fake, f, s
}

var localhostOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// Issue 9: a post's local image reaches Discord as an uploaded attachment
// the embed shows, with its alt text.
func TestLocalImageIsUploaded(t *testing.T) {
	data := pngBytes(t)
	file := filepath.Join(t.TempDir(), "march photo (2024).PNG")
	os.WriteFile(file, data, 0o644)
	for _, cfg := range []Config{botConfig(discordfake.TextChannelID), webhookConfig()} {
		fake, f, s := setupImages(t, cfg, nil)
		p := samplePost("local-image")
		p.Image = &post.Image{File: file, Alt: "Chart: victims 2010-2024 & rising?"}
		r, err := send(t, f, s, p, channels.Delivery{PostID: p.ID, Channel: Name, Ledger: &testLedger{}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Notes) != 0 {
			t.Errorf("notes %q", r.Notes)
		}
		m := fake.Messages(discordfake.TextChannelID)
		if len(m) != 1 || len(m[0].Attachments) != 1 {
			t.Fatalf("messages %+v", m)
		}
		a := m[0].Attachments[0]
		if !bytes.Equal(a.Data, data) || a.Description != p.Image.Alt || a.Spoiler() || !strings.HasSuffix(a.Filename, ".png") {
			t.Errorf("attachment %+v", a)
		}
		img, _ := m[0].Embeds[0]["image"].(map[string]any)
		if img["url"] != "attachment://"+a.Filename {
			t.Errorf("embed image %v does not show the attachment %s", img, a.Filename)
		}
	}
}

// Issue 9: behind a content warning the image is a spoiler attachment
// instead of vanishing, whether it is a file or a URL (fetched through the
// guarded client).
func TestContentWarningImageIsASpoilerAttachment(t *testing.T) {
	data := pngBytes(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/img/march.jpg" {
			w.Write(data) // a PNG under a .jpg name: its bytes decide
			return
		}
		http.NotFound(w, r)
	}))
	defer images.Close()
	file := filepath.Join(t.TempDir(), "poster.png")
	os.WriteFile(file, data, 0o644)
	for _, img := range []post.Image{{URL: images.URL + "/img/march.jpg", Alt: "Marchers: 50% children"}, {File: file, Alt: "Poster"}} {
		fake, f, s := setupImages(t, botConfig(discordfake.TextChannelID), localhostOnly)
		p := samplePost("cw-image")
		p.ContentWarning = "child trafficking"
		p.Image = &img
		r, err := send(t, f, s, p, channels.Delivery{PostID: p.ID, Channel: Name, Ledger: &testLedger{}})
		if err != nil {
			t.Fatal(err)
		}
		m := fake.Messages(discordfake.TextChannelID)
		if len(m) != 1 || len(m[0].Attachments) != 1 {
			t.Fatalf("%+v: messages %+v", img, m)
		}
		a := m[0].Attachments[0]
		if !a.Spoiler() || !bytes.Equal(a.Data, data) || a.Description != img.Alt || !strings.HasSuffix(a.Filename, ".png") {
			t.Errorf("%+v: attachment %s %q spoiler=%v", img, a.Filename, a.Description, a.Spoiler())
		}
		if _, shown := m[0].Embeds[0]["image"]; shown {
			t.Errorf("%+v: the embed shows the image unblurred", img)
		}
		if len(r.Notes) != 0 {
			t.Errorf("notes %q", r.Notes)
		}
	}
}

// An image that cannot be had leaves the message without it, with a note;
// an image on a private address is never fetched.
func TestUnavailableImageNeverStopsTheMessage(t *testing.T) {
	var hits atomic.Int32
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer images.Close()
	for _, tc := range []struct {
		img   post.Image
		allow []netip.Prefix
		want  string
	}{
		{post.Image{URL: images.URL + "/gone.png"}, localhostOnly, "404"},
		{post.Image{File: filepath.Join(t.TempDir(), "missing.png")}, nil, "does not exist"},
		{post.Image{URL: images.URL + "/secret.png"}, nil, "not public"},
		{post.Image{URL: "http://169.254.169.254/latest/meta-data/"}, nil, "not public"},
	} {
		fake, f, s := setupImages(t, botConfig(discordfake.TextChannelID), tc.allow)
		p := samplePost("no-image")
		p.ContentWarning = "violence"
		p.Image = &tc.img
		p.Image.Alt = "x"
		r, err := send(t, f, s, p, channels.Delivery{PostID: p.ID, Channel: Name, Ledger: &testLedger{}})
		if err != nil {
			t.Fatalf("%+v: %v", tc.img, err)
		}
		m := fake.Messages(discordfake.TextChannelID)
		if len(m) != 1 || len(m[0].Attachments) != 0 {
			t.Errorf("%+v: messages %+v, want one without attachments", tc.img, m)
		}
		if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], tc.want) {
			t.Errorf("%+v: notes %q, want one saying %q", tc.img, r.Notes, tc.want)
		}
	}
	// A local file without a content warning: the embed must not point at
	// an attachment that was not sent (the fake refuses that).
	fake, f, s := setupImages(t, botConfig(discordfake.TextChannelID), nil)
	p := samplePost("no-file")
	p.Image = &post.Image{File: filepath.Join(t.TempDir(), "missing.png"), Alt: "x"}
	if r, err := send(t, f, s, p, channels.Delivery{PostID: p.ID, Channel: Name, Ledger: &testLedger{}}); err != nil || len(r.Notes) != 1 {
		t.Fatalf("%v, notes %q", err, r.Notes)
	}
	if m := fake.Messages(discordfake.TextChannelID); len(m) != 1 || m[0].Embeds[0]["image"] != nil {
		t.Errorf("messages %+v", m)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the image server got %d requests, want 1 (the allowed 404)", n)
	}
}

func webhookConfig() Config {
	return Config{Enabled: true, WebhookURL: secret.Secret(discordfake.WebhookURL(discordfake.WebhookID))}
}
