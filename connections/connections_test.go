package connections_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/connections"
	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/sqldb"
)

// kite is a channel type for these tests: its line is its credential,
// checked by the "network" (only "strong" holds); balloon is one that
// connects by signing in at a server (OAuth).
type kite struct{ registered *int }

func (kite) Type() string { return "kite" }
func (kite) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := kiteConfig{Enabled: true}
	return kiteSettings{cfg: cfg.decode(s), name: s.Name}, nil
}
func (kite) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{{Name: "sky", Label: "Sky", Help: "which sky"}, {Name: "line", Label: "Line", Help: "the line", Secret: true}}
}
func (kite) CheckConnection(_ context.Context, _ channels.Env, c channels.Connection) (string, error) {
	if c.Values["line"] != "strong" && c.Values["line"] != "stronger" {
		return "", &channels.ConnectError{Field: "line", Reason: "the sky refused this line"}
	}
	return "@kite@" + c.Values["sky"], nil
}

type balloon struct{ kite }

func (balloon) Type() string { return "balloon" }
func (balloon) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{{Name: "sky", Label: "Sky", Help: "which sky"}}
}
func (balloon) OAuthServer(c channels.Connection) (string, error) {
	if c.Values["sky"] == "" {
		return "", &channels.ConnectError{Field: "sky", Reason: "which sky?"}
	}
	return "https://" + c.Values["sky"], nil
}
func (b balloon) RegisterApp(_ context.Context, _ channels.Env, server, redirect string) (channels.OAuthApp, error) {
	*b.registered++
	return channels.OAuthApp{Server: server, RedirectURI: redirect, ClientID: "id", ClientSecret: "app-secret", PKCE: true}, nil
}
func (balloon) AuthorizeURL(app channels.OAuthApp, state, challenge string) string {
	return app.Server + "/authorize?" + url.Values{"state": {state}, "code_challenge": {challenge}}.Encode()
}
func (balloon) FinishOAuth(_ context.Context, _ channels.Env, app channels.OAuthApp, code, verifier string) (map[string]string, string, error) {
	if code != "good-code" || verifier == "" {
		return nil, "", &channels.ConnectError{Reason: "the server refused the code"}
	}
	return map[string]string{"sky": strings.TrimPrefix(app.Server, "https://"), "line": "strong"}, "@balloon", nil
}

type kiteConfig struct {
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	Sky     string        `yaml:"sky"`
	Line    string        `yaml:"line"`
}

func (c kiteConfig) decode(s config.ChannelSection) kiteConfig {
	s.Decode(&c)
	return c
}

type kiteSettings struct {
	cfg  kiteConfig
	name string
}

func (s kiteSettings) Enabled() bool        { return s.cfg.Enabled }
func (s kiteSettings) Mode() channels.Mode  { return s.cfg.Mode }
func (s kiteSettings) HasCredentials() bool { return s.cfg.Line != "" }
func (s kiteSettings) Formatter(channels.Campaign) (channels.Formatter, error) {
	return kiteFormatter{s.name}, nil
}
func (s kiteSettings) Connect(context.Context, channels.Env) (channels.Formatter, channels.Sender, error) {
	return kiteFormatter{s.name}, kiteSender{line: s.cfg.Line, sky: s.cfg.Sky}, nil
}
func (kiteSettings) Preview(io.Writer, channels.Payload) {}

type kiteFormatter struct{ name string }

func (f kiteFormatter) Format(p post.Post) (channels.Payload, error) {
	return channels.Payload{Channel: f.name, PostID: p.ID}, nil
}

// kiteSender says which line and sky it flies with.
type kiteSender struct{ line, sky string }

func (kiteSender) Send(context.Context, channels.Delivery, channels.Payload) (channels.Receipt, error) {
	return channels.Receipt{}, nil
}

// A kite can be pulled down: its sender withdraws, so the Channels page
// says it can withdraw posts once the kite is connected.
func (kiteSender) Withdraw(context.Context, channels.Withdrawal) ([]channels.PartResult, error) {
	return nil, nil
}

type outbox struct{}

func (outbox) Send(context.Context, channels.Delivery, channels.Payload) (channels.Receipt, error) {
	return channels.Receipt{}, nil
}

// bundle is one test's store and the services of two replicas on it.
type bundle struct {
	db       *sql.DB
	insts    []channels.Instance
	acc      *accounts.Store
	svc      *connections.Service
	now      time.Time
	mu       sync.Mutex
	register int
}

const yamlConfig = `campaign: {name: CAMACA}
channels:
  kite: {sky: blue}
  kite-server: {type: kite, sky: grey, line: strong}
  balloon: {}
`

func dialects(t *testing.T, test func(t *testing.T, b *bundle)) {
	postgres.EachDriver(t, func(t *testing.T, driver string) { test(t, setup(t, driver)) })
}

func setup(t *testing.T, driver string) *bundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, driver, postgres.Target(t, driver))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &bundle{db: db, now: time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)}
	reg := channels.NewRegistry(kite{&b.register}, balloon{kite{&b.register}})
	_, b.insts, err = reg.Parse("config.yaml", []byte(yamlConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	key, _ := accounts.NewKey()
	if b.acc, err = accounts.Open(ctx, accounts.Options{DB: db, Key: key, Now: b.clock}); err != nil {
		t.Fatal(err)
	}
	b.svc = b.replica(t)
	return b
}

func (b *bundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *bundle) advance(d time.Duration) {
	b.mu.Lock()
	b.now = b.now.Add(d)
	b.mu.Unlock()
}

// replica is another daemon's service on the same store.
func (b *bundle) replica(t *testing.T) *connections.Service {
	svc, err := connections.New(connections.Options{Instances: b.insts, Accounts: b.acc, Outbox: outbox{}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// started is a channel as the daemon built it at start: the outbox.
func started(name string) channels.Channel {
	return channels.Channel{Name: name, Formatter: kiteFormatter{name}, Sender: outbox{}, Outbox: true}
}

const owner = "owner@camaca.example"

// TestConnectReachesEveryReplicaAtTheNextDelivery: a connect made through
// one replica's service is what both replicas send with at their next
// delivery, and a disconnect sends both back to the outbox.
func TestConnectReachesEveryReplicaAtTheNextDelivery(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		other := b.replica(t)
		for _, svc := range []*connections.Service{b.svc, other} {
			if ch, err := svc.Current(ctx, started("kite")); err != nil || !ch.Outbox {
				t.Fatalf("before connecting: %+v, %v; want the outbox", ch, err)
			}
		}
		if _, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": "blue", "line": "weak"}); err == nil {
			t.Fatal("a refused line was stored")
		}
		display, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": " blue ", "line": "strong"})
		if err != nil || display != "@kite@blue" {
			t.Fatalf("Connect = %q, %v", display, err)
		}
		for i, svc := range []*connections.Service{b.svc, other} {
			ch, err := svc.Current(ctx, started("kite"))
			if err != nil || ch.Outbox || ch.Sender != (kiteSender{line: "strong", sky: "blue"}) {
				t.Fatalf("replica %d after connecting: %+v, %v; want it to fly the stored line", i, ch, err)
			}
		}
		if err := other.Disconnect(ctx, owner, "kite"); err != nil {
			t.Fatal(err)
		}
		for i, svc := range []*connections.Service{b.svc, other} {
			if ch, err := svc.Current(ctx, started("kite")); err != nil || !ch.Outbox {
				t.Fatalf("replica %d after disconnecting: %+v, %v; want the outbox", i, ch, err)
			}
		}
		events, _ := b.svc.Audit(ctx, 0)
		var actions []string
		for _, e := range events {
			actions = append(actions, e.Action)
			if strings.Contains(e.Detail, "strong") || strings.Contains(e.Detail, "weak") {
				t.Errorf("the audit trail shows a secret: %+v", e)
			}
		}
		if got := strings.Join(actions, ", "); got != "disconnected, connected, connect refused" {
			t.Errorf("audit = %s", got)
		}
	})
}

// TestChannelsPageSaysWhatAConnectedAccountCanDoAtOnce: what an instance
// can do is its sender's, and after a connect from the console the page
// says so at once, not only after the next delivery built the channel.
func TestChannelsPageSaysWhatAConnectedAccountCanDoAtOnce(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		if _, err := b.svc.Current(ctx, started("kite")); err != nil { // as the daemon does at start
			t.Fatal(err)
		}
		can := func() string {
			t.Helper()
			list, err := b.svc.Instances(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ci := range list {
				if ci.Name == "kite" {
					return strings.Join(ci.Can, ", ")
				}
			}
			t.Fatal("no kite instance on the page")
			return ""
		}
		if got := can(); strings.Contains(got, "withdraw posts") {
			t.Fatalf("before connecting, the outbox can %q", got)
		}
		if _, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": "blue", "line": "strong"}); err != nil {
			t.Fatal(err)
		}
		if got := can(); !strings.Contains(got, "withdraw posts") {
			t.Errorf("after connecting, It can: %q; want withdraw posts", got)
		}
		if err := b.svc.Disconnect(ctx, owner, "kite"); err != nil {
			t.Fatal(err)
		}
		if got := can(); strings.Contains(got, "withdraw posts") {
			t.Errorf("after disconnecting, It can: %q", got)
		}
	})
}

// TestServerConfigurationWins: an instance with credentials in config.yaml
// is shown read-only and cannot be connected, changed or disconnected.
func TestServerConfigurationWins(t *testing.T) {
	t.Parallel()
	b := setup(t, string(sqldb.SQLite))
	ctx := context.Background()
	_, err := b.svc.Connect(ctx, owner, "kite-server", map[string]string{"sky": "red", "line": "strong"})
	var server accounts.ConfiguredOnServerError
	if !errors.As(err, &server) {
		t.Fatalf("Connect = %v, want ConfiguredOnServerError", err)
	}
	if err := b.svc.Disconnect(ctx, owner, "kite-server"); !errors.As(err, &server) {
		t.Fatalf("Disconnect = %v, want ConfiguredOnServerError", err)
	}
	list, _ := b.svc.Instances(ctx)
	got := map[string]string{}
	for _, ci := range list {
		got[ci.Name] = fmt.Sprintf("%s editable=%v oauth=%v", ci.Origin, ci.Editable, ci.OAuth)
	}
	want := map[string]string{"kite": "not connected editable=true oauth=false", "kite-server": "configured on the server editable=false oauth=false",
		"balloon": "not connected editable=true oauth=true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Instances = %v, want %v", got, want)
	}
	// Its channel is what the server built, whatever is stored.
	ch := channels.Channel{Name: "kite-server", Sender: kiteSender{line: "strong", sky: "grey"}}
	if now, _ := b.svc.Current(ctx, ch); now != ch {
		t.Fatalf("Current changed a server-configured channel: %+v", now)
	}
}

// TestEmptySecretKeepsTheStoredOne: connecting again with the secret left
// empty keeps it (the form never shows it); typing one replaces it.
func TestEmptySecretKeepsTheStoredOne(t *testing.T) {
	t.Parallel()
	b := setup(t, string(sqldb.SQLite))
	ctx := context.Background()
	if _, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": "blue", "line": "strong"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": "green", "line": ""}); err != nil {
		t.Fatalf("reconnecting with the secret kept: %v", err)
	}
	if ch, _ := b.svc.Current(ctx, started("kite")); ch.Sender != (kiteSender{line: "strong", sky: "green"}) {
		t.Fatalf("after changing the sky only: %+v", ch.Sender)
	}
	if _, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": "green", "line": "stronger"}); err != nil {
		t.Fatal(err)
	}
	if ch, _ := b.svc.Current(ctx, started("kite")); ch.Sender != (kiteSender{line: "stronger", sky: "green"}) {
		t.Fatalf("after typing a new line: %+v", ch.Sender)
	}
}

// TestSignInStateIsSingleUseOwnedAndShortLived: the state of a sign-in
// works once, only for the owner who started it, within 15 minutes; the
// app registered on a server is reused.
func TestSignInStateIsSingleUseOwnedAndShortLived(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		const redirect = "https://crier.example/channels/oauth/callback"
		start := func() string {
			t.Helper()
			u, err := b.svc.StartOAuth(ctx, owner, "balloon", map[string]string{"sky": "sky.example"}, redirect)
			if err != nil {
				t.Fatal(err)
			}
			parsed, _ := url.Parse(u)
			if parsed.Query().Get("code_challenge") == "" {
				t.Fatalf("no PKCE challenge in %s", u)
			}
			return parsed.Query().Get("state")
		}
		state := start()
		if _, _, err := b.svc.FinishOAuth(ctx, "intruder@camaca.example", state, "good-code"); err == nil {
			t.Fatal("another owner finished the sign-in")
		}
		if _, _, err := b.svc.FinishOAuth(ctx, owner, state, "good-code"); !errors.Is(err, accounts.ErrStateUnknown) {
			t.Fatalf("a used state: %v, want ErrStateUnknown", err)
		}
		state = start()
		b.advance(16 * time.Minute)
		if _, _, err := b.svc.FinishOAuth(ctx, owner, state, "good-code"); !errors.Is(err, accounts.ErrStateUnknown) {
			t.Fatalf("an expired state: %v, want ErrStateUnknown", err)
		}
		state = start()
		inst, display, err := b.svc.FinishOAuth(ctx, owner, state, "good-code")
		if err != nil || inst != "balloon" || display != "@balloon" {
			t.Fatalf("FinishOAuth = %q, %q, %v", inst, display, err)
		}
		if b.register != 1 {
			t.Errorf("the app was registered %d times, want once", b.register)
		}
		if _, err := b.svc.Connect(ctx, owner, "balloon", map[string]string{"sky": "x"}); err == nil {
			t.Error("an OAuth type was connected with the form")
		}
		list, _ := b.svc.Instances(ctx)
		for _, ci := range list {
			if ci.Name == "balloon" && (ci.Display != "@balloon" || ci.SecretsSet["line"].IsZero() || ci.Settings["line"] != "") {
				t.Errorf("balloon shown as %+v; want the token as a secret set, never shown", ci)
			}
		}
	})
}

// TestRefusedCredentialsAreShownUntilTheyWork: a delivery the network
// refused for its credentials shows on the Channels page until a delivery
// gets through or the account is connected again.
func TestRefusedCredentialsAreShownUntilTheyWork(t *testing.T) {
	t.Parallel()
	b := setup(t, string(sqldb.SQLite))
	ctx := context.Background()
	if _, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": "blue", "line": "strong"}); err != nil {
		t.Fatal(err)
	}
	rejected := func() (time.Time, string) {
		list, _ := b.svc.Instances(ctx)
		for _, ci := range list {
			if ci.Name == "kite" {
				return ci.RejectedAt, ci.RejectedReason
			}
		}
		return time.Time{}, ""
	}
	b.svc.Attempted(ctx, "kite", channels.Permanent(errors.New("422: too long")))
	if at, _ := rejected(); !at.IsZero() {
		t.Fatal("an error that is not about credentials was recorded as a refusal")
	}
	b.svc.Attempted(ctx, "kite", channels.Refused(errors.New("401 Unauthorized: the token was revoked")))
	if at, why := rejected(); !at.Equal(b.clock()) || !strings.Contains(why, "revoked") {
		t.Fatalf("refusal shown as %v %q", at, why)
	}
	b.replica(t).Attempted(ctx, "kite", nil) // another replica gets through
	if at, _ := rejected(); !at.IsZero() {
		t.Fatal("a delivery that got through left the refusal shown")
	}
	b.svc.Attempted(ctx, "kite", channels.Refused(errors.New("401")))
	if _, err := b.svc.Connect(ctx, owner, "kite", map[string]string{"sky": "blue", "line": "stronger"}); err != nil {
		t.Fatal(err)
	}
	if at, _ := rejected(); !at.IsZero() {
		t.Fatal("connecting again left the refusal shown")
	}
}
