package mastodon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
)

// TestOAuthConnectAgainstGoToSocial: Crier registers its app with only the
// scopes it uses, the owner signs in on GoToSocial's own pages, the code
// comes back with the state, and is exchanged, with the PKCE verifier of
// the challenge, for a token that names the account. (GoToSocial 0.19
// takes the PKCE parameters but does not check the verifier; Mastodon 4.3
// does: the test checks what Crier sends.)
func TestOAuthConnectAgainstGoToSocial(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{})
	user := gts.NewUser(t)
	ctx := context.Background()
	sent := &formRecorder{base: http.DefaultTransport}
	env := channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: sent}}
	p := Provider{}
	server, err := p.OAuthServer(channels.Connection{Values: map[string]string{"instance": " " + gts.URL + "/ "}})
	if err != nil || server != gts.URL {
		t.Fatalf("OAuthServer = %q, %v; want %s", server, err, gts.URL)
	}
	const redirect = "http://127.0.0.1:9/channels/oauth/callback"
	app, err := p.RegisterApp(ctx, env, server, redirect)
	if err != nil {
		t.Fatal(err)
	}
	if !app.PKCE || app.ClientID == "" || app.ClientSecret == "" {
		t.Fatalf("app = %+v; want an id, a secret and PKCE", app)
	}
	authorize := func(state, verifier string) string {
		sum := sha256.Sum256([]byte(verifier))
		u := p.AuthorizeURL(app, state, base64.RawURLEncoding.EncodeToString(sum[:]))
		if q, _ := url.Parse(u); q.Query().Get("scope") != Scopes || q.Query().Get("code_challenge_method") != "S256" {
			t.Fatalf("authorize URL %s: want scope %q and S256", u, Scopes)
		}
		back, err := gts.Authorize(ctx, user, u)
		if err != nil {
			t.Fatal(err)
		}
		if back.Query().Get("state") != state || !strings.HasPrefix(back.String(), redirect+"?") {
			t.Fatalf("sent back to %s; want %s with state %s", back, redirect, state)
		}
		return back.Query().Get("code")
	}
	verifier := strings.Repeat("v", 43)
	code := authorize("state-2", verifier)
	values, display, err := p.FinishOAuth(ctx, env, app, code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if f := sent.form("/oauth/token"); f.Get("code_verifier") != verifier || f.Get("redirect_uri") != redirect {
		t.Fatalf("token request = %v; want the PKCE verifier and the redirect address", f)
	}
	if f := sent.form("/api/v1/apps"); f.Get("scopes") != Scopes {
		t.Fatalf("app registered with scopes %q, want %q", f.Get("scopes"), Scopes)
	}
	host := strings.TrimPrefix(gts.URL, "http://")
	if want := "@" + user.Username + "@" + host; display != want {
		t.Fatalf("display = %q, want %q", display, want)
	}
	if values["instance"] != gts.URL || values["token"] == "" {
		t.Fatalf("values = instance %q, token set %v", values["instance"], values["token"] != "")
	}
	// The stored token checks again (the Channels page's Test).
	if d, err := p.CheckConnection(ctx, env, channels.Connection{Values: values}); err != nil || d != display {
		t.Fatalf("CheckConnection = %q, %v", d, err)
	}
	_, err = p.CheckConnection(ctx, env, channels.Connection{Values: map[string]string{"instance": gts.URL, "token": "revoked"}})
	var ce *channels.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "refused") {
		t.Fatalf("a wrong token: err = %v, want a refusal in plain words", err)
	}
}

func TestOAuthServerRefusesWhatIsNotAnAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"mastodon.social": "https://mastodon.social", "https://Mastodon.Social/about": "https://mastodon.social",
		"@social.example": "https://social.example",
	} {
		got, err := Provider{}.OAuthServer(channels.Connection{Values: map[string]string{"instance": in}})
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ftp://x.example", "https://user@x.example", "https://", "http://social.example"} {
		_, err := Provider{}.OAuthServer(channels.Connection{Values: map[string]string{"instance": in}})
		var ce *channels.ConnectError
		if !errors.As(err, &ce) || ce.Field != "instance" {
			t.Errorf("%q: err = %v, want a ConnectError on instance", in, err)
		}
	}
}

// TestOAuthServerPlainHTTPOnlyForThisMachine: the client secret, the code
// and the token cross the network in clear over http, so only a loopback
// address may use it; any other host is told to use https.
func TestOAuthServerPlainHTTPOnlyForThisMachine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8080": "http://127.0.0.1:8080", "http://127.3.4.5": "http://127.3.4.5",
		"http://[::1]:3000": "http://[::1]:3000", "http://LocalHost:9": "http://localhost:9",
	} {
		got, err := Provider{}.OAuthServer(channels.Connection{Values: map[string]string{"instance": in}})
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"http://social.example", "http://10.0.0.7", "http://192.168.1.2:3000",
		"http://localhost.example.org", "http://127.0.0.1.nip.io", "http://[2001:db8::1]"} {
		_, err := Provider{}.OAuthServer(channels.Connection{Values: map[string]string{"instance": in}})
		var ce *channels.ConnectError
		if !errors.As(err, &ce) || ce.Field != "instance" || !strings.Contains(ce.Reason, "https://") {
			t.Errorf("%q: err = %v, want a ConnectError on instance saying to use https", in, err)
		}
	}
}

// formRecorder keeps the form of each POST by path.
type formRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	forms map[string]url.Values
}

func (r *formRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		r.mu.Lock()
		if r.forms == nil {
			r.forms = map[string]url.Values{}
		}
		r.forms[req.URL.Path] = form
		r.mu.Unlock()
	}
	return r.base.RoundTrip(req)
}

func (r *formRecorder) form(path string) url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forms[path]
}
