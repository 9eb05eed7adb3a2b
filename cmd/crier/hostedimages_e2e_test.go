package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/titlecard"
)

// Issue 26 through the daemon: a channel that has its pictures fetched
// from a URL (as Instagram does) gets channels.Env.Images from `crier run`,
// publishes a post's title card there, and the daemon serves it at that
// address to anyone, without signing in, with GET and HEAD; an address it
// never gave out is 404.
func TestRunServesPublishedPictures(t *testing.T) {
	t.Parallel()
	wall := &postcardWall{}
	reg := channels.NewRegistry(append(providerList(), postcardProvider{wall})...)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b := setup(t, fmt.Sprintf(`campaign: {name: Friends of Hartley Park, website: https://hartleypark.example, colours: {background: "#0b3d2e", accent: "#f2c14e"}}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  postcard: {wall: hall}
`, addr, base))
	b.write("posts/trees.md", "---\ntitle: Help us plant 500 trees\nlink: https://hartleypark.example/trees\n---\nSpades provided.\n")
	ctx, cancel := context.WithCancel(context.Background())
	logs, done := &syncBuffer{}, make(chan int)
	go func() {
		// The test serves over http on loopback, which Meta could never
		// fetch from: the insecure test hook allows it.
		app := &App{LookupEnv: b.lookupEnv, Stdout: io.Discard, Stderr: logs, HTTPClient: http.DefaultClient, Registry: reg, AllowNonPublicImageURL: true}
		done <- runApp(ctx, app, []string{"--config", b.cfg, "run"})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d\n%s", code, logs.String())
		}
	})
	testnet.WaitFor(t, "the postcard's picture published", 30*time.Second, func() bool { return len(wall.addresses()) == 1 })
	if err := wall.checked(); err != nil {
		t.Fatalf("Env.Images.Check() when connecting: %v", err)
	}
	address := wall.addresses()[0]
	if !strings.HasPrefix(address, base+"/hosted/") || !strings.HasSuffix(address, ".png") {
		t.Fatalf("picture address %q, want %s/hosted/<id>.png", address, base)
	}
	anonymous := &http.Client{Timeout: 20 * time.Second}
	res, err := anonymous.Head(address)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("HEAD %s: %s %v", address, res.Status, res.Header)
	}
	length := res.Header.Get("Content-Length")
	res, err = anonymous.Get(address)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || fmt.Sprint(len(body)) != length {
		t.Fatalf("GET %s: %s, %d bytes (HEAD said %s)", address, res.Status, len(body), length)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width != titlecard.Size {
		t.Errorf("the served picture is not the %dpx title card: %+v %v", titlecard.Size, cfg, err)
	}
	unknown := base + "/hosted/0123456789abcdef0123456789abcdef.png"
	if res, err := anonymous.Get(unknown); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s: %v %v, want 404", unknown, res.Status, err)
	} else {
		res.Body.Close()
	}
}

// postcardProvider is a channel type that exists only in this test: like
// Instagram, its network fetches the post's picture from an address.
type postcardProvider struct{ wall *postcardWall }

func (postcardProvider) Type() string { return "postcard" }

func (p postcardProvider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := postcardConfig{Enabled: true}
	probs := s.Decode(&cfg)
	return postcardSettings{cfg: cfg, name: s.Name, wall: p.wall}, probs
}

type postcardConfig struct {
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	Wall    string        `yaml:"wall"`
}

type postcardSettings struct {
	cfg  postcardConfig
	name string
	wall *postcardWall
}

func (s postcardSettings) Enabled() bool        { return s.cfg.Enabled }
func (s postcardSettings) Mode() channels.Mode  { return s.cfg.Mode }
func (s postcardSettings) HasCredentials() bool { return s.cfg.Wall != "" }
func (s postcardSettings) Formatter(c channels.Campaign) (channels.Formatter, error) {
	return postcardFormatter{s.name, c}, nil
}
func (s postcardSettings) Connect(_ context.Context, env channels.Env) (channels.Formatter, channels.Sender, error) {
	if env.Images == nil {
		return nil, nil, fmt.Errorf("no Env.Images")
	}
	s.wall.connected(env.Images.Check())
	return postcardFormatter{s.name, env.Campaign}, postcardSender{s.wall, env.Images, env.Campaign}, nil
}
func (s postcardSettings) Preview(w io.Writer, p channels.Payload) {
	channels.PreviewFields(w, p.Body, "   ")
}

type postcardBody struct {
	Title string `json:"title"`
}

func (postcardBody) ChannelType() string { return "postcard" }

type postcardFormatter struct {
	channel  string
	campaign channels.Campaign
}

func (f postcardFormatter) Format(p post.Post) (channels.Payload, error) {
	return channels.Payload{Channel: f.channel, PostID: p.ID, Body: postcardBody{Title: p.Title}}, nil
}

// postcardWall records what the network was given, as the remote side
// would.
type postcardWall struct {
	mu    sync.Mutex
	check error
	sent  []string
}

func (w *postcardWall) connected(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.check = err
}

func (w *postcardWall) checked() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.check
}

func (w *postcardWall) addresses() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.sent...)
}

type postcardSender struct {
	wall     *postcardWall
	images   channels.PublicImages
	campaign channels.Campaign
}

// Send draws the title card and hands its address to the "network".
func (s postcardSender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	body, err := channels.BodyOf[postcardBody](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	bg, _ := titlecard.ParseColour(s.campaign.Colours.Background)
	accent, _ := titlecard.ParseColour(s.campaign.Colours.Accent)
	card, err := titlecard.Draw(titlecard.Options{Campaign: s.campaign.Name, Title: body.Title, Background: bg, Accent: accent})
	if err != nil {
		return channels.Receipt{}, channels.Permanent(err)
	}
	address, err := s.images.Publish(ctx, card, "image/png", time.Hour)
	if err != nil {
		return channels.Receipt{}, err
	}
	s.wall.mu.Lock()
	defer s.wall.mu.Unlock()
	s.wall.sent = append(s.wall.sent, address)
	return channels.Receipt{RemoteID: fmt.Sprint(len(s.wall.sent))}, nil
}
