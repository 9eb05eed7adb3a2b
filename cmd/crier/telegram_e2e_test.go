package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
)

// lossyBotAPI is a Bot API that posts every sendMessage and loses the
// answer to the first: the connection is closed once the message is in
// the channel.
type lossyBotAPI struct {
	mu    sync.Mutex
	texts []string
}

func (f *lossyBotAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/sendMessage") {
		http.Error(w, `{"ok":false,"error_code":404,"description":"Not Found"}`, http.StatusNotFound)
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	f.texts = append(f.texts, req.Text)
	n := len(f.texts)
	f.mu.Unlock()
	if n == 1 {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // posted, but the answer is lost
		}
		return
	}
	fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d,"date":1767225600,"chat":{"id":-1001234567890,"type":"channel","username":"camaca_news"},"text":"x"}}`, 100+n)
}

func (f *lossyBotAPI) sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.texts)
}

// TestTelegramLostAnswerWaitsForAnOrganiser runs the daemon with a
// Telegram channel whose first answer is lost: the delivery is not retried
// by itself (Telegram cannot be asked whether it went out) but waits on the
// post page, where an editor's Send again sends it.
func TestTelegramLostAnswerWaitsForAnOrganiser(t *testing.T) {
	t.Parallel()
	api := &lossyBotAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b := setup(t, fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  telegram: {enabled: true, bot_token: "123456789:AAE-fakeTokenForCrierTests_0123456789", chat_id: "@camaca_news", api_url: %q}
`, addr, base, srv.URL))
	b.write("posts/vigil.md", "---\ntitle: Vigil on Friday\nlink: https://camaca.example/vigil\n---\nBring a candle.\n")
	const editor = "ed.editor@camaca.example"
	if code, out, errOut := b.crierInput("editor's long passphrase\n", "users", "add", editor, "--role", "editor", "--password-stdin"); code != 0 {
		t.Fatalf("users add: %d %s %s", code, out, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs, done := &syncBuffer{}, make(chan int)
	go func() {
		done <- runApp(ctx, &App{LookupEnv: b.lookupEnv, Stdout: io.Discard, Stderr: logs, HTTPClient: http.DefaultClient, Registry: providers()}, []string{"--config", b.cfg, "run"})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d\n%s", code, logs.String())
		}
	})

	type delivery struct {
		Channel, State string
		Attempts       int
		ErrorKind      string `json:"error_kind"`
	}
	status := func() (string, delivery) {
		_, out, _ := b.crier("status", "--json")
		var st struct {
			Posts []struct {
				ID         string
				Deliveries []delivery
			}
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Posts) != 1 || len(st.Posts[0].Deliveries) != 1 {
			return "", delivery{}
		}
		return st.Posts[0].ID, st.Posts[0].Deliveries[0]
	}
	var id string
	var d delivery
	testnet.WaitFor(t, "the delivery waiting for a check", 60*time.Second, func() bool {
		id, d = status()
		return d.State == "failed"
	})
	if d.ErrorKind != "ambiguous" || d.Attempts != 1 || api.sent() != 1 {
		t.Fatalf("delivery %+v after %d sends, want failed as ambiguous after the one send whose answer was lost\n%s", d, api.sent(), logs.String())
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	token := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(get(t, browser, base+"/login"))
	if token == nil {
		t.Fatal("no login token on the sign-in page")
	}
	postForm(t, browser, base+"/login", url.Values{"login_token": {token[1]}, "email": {editor}, "password": {"editor's long passphrase"}})
	page := get(t, browser, base+"/posts/"+url.PathEscape(id))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil || !strings.Contains(page, "/went-out") || !strings.Contains(page, "/send-again") {
		t.Fatalf("the post page offers no It went out / Send again:\n%s", page)
	}
	// The attempt that lost its answer may still be finishing in the job
	// queue a moment after the post page shows it; the console then says
	// "try again in a minute", and an organiser presses again.
	testnet.WaitFor(t, "Send again accepted", 60*time.Second, func() bool {
		answer := postForm(t, browser, base+"/posts/"+url.PathEscape(id)+"/send-again", url.Values{"csrf": {csrf[1]}, "channel": {"telegram"}})
		return !strings.Contains(answer, "still finishing")
	})
	testnet.WaitFor(t, "the delivery sent again", 60*time.Second, func() bool {
		_, d = status()
		return d.State == "sent"
	})
	if api.sent() != 2 {
		t.Errorf("the channel got %d messages, want the lost one and the one sent again", api.sent())
	}
	if page := get(t, browser, base+"/posts/"+url.PathEscape(id)); !strings.Contains(page, "sent again after checking the channel") {
		t.Errorf("the history does not show Send again:\n%s", page)
	}
}
