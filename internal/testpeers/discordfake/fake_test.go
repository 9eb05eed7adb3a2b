package discordfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

func do(t *testing.T, s *Server, method, path, auth, body string) (*http.Response, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://discord.com/api/v10"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("User-Agent", "DiscordBot (https://example.org, 1)")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp, out
}

const good = `{"embeds":[{"title":"t","description":"d"}],"allowed_mentions":{"parse":[]},"nonce":"n1","enforce_nonce":true}`

func TestRejectsWhatDiscordRejects(t *testing.T) {
	s := New(t)
	s.AllowRejections()
	bot := "Bot " + Token
	msgs := "/channels/" + TextChannelID + "/messages"
	for _, tc := range []struct {
		name, auth, path, body string
		status                 int
	}{
		{"title over 256 (spec)", bot, msgs, `{"embeds":[{"title":"` + strings.Repeat("x", 257) + `"}],"allowed_mentions":{"parse":[]}}`, 400},
		{"wrong type (spec)", bot, msgs, `{"content":5,"allowed_mentions":{"parse":[]}}`, 400},
		{"unknown parse value (spec)", bot, msgs, `{"content":"x","allowed_mentions":{"parse":["nobody"]}}`, 400},
		{"nonce over 25 (spec)", bot, msgs, `{"content":"x","allowed_mentions":{"parse":[]},"nonce":"` + strings.Repeat("n", 26) + `"}`, 400},
		{"bad timestamp (spec)", bot, msgs, `{"embeds":[{"timestamp":"today"}],"allowed_mentions":{"parse":[]}}`, 400},
		{"bad query (spec)", bot, msgs + "?limit=500", "", 400},
		{"content over 2000", bot, msgs, `{"content":"` + strings.Repeat("x", 2001) + `","allowed_mentions":{"parse":[]}}`, 400},
		{"over 6000 across the embed", bot, msgs, `{"embeds":[{"description":"` + strings.Repeat("x", 4000) + `","fields":[{"name":"a","value":"` + strings.Repeat("y", 1000) + `"},{"name":"b","value":"` + strings.Repeat("y", 1000) + `"}]}],"allowed_mentions":{"parse":[]}}`, 400},
		{"no allowed_mentions", bot, msgs, `{"content":"x"}`, 400},
		{"empty message", bot, msgs, `{"allowed_mentions":{"parse":[]}}`, 400},
		{"javascript URL", bot, msgs, `{"embeds":[{"title":"t","url":"javascript:alert(1)"}],"allowed_mentions":{"parse":[]}}`, 400},
		{"nonce on a webhook", "", "/webhooks/" + WebhookID + "/" + WebhookToken + "?wait=true", good, 400},
		{"no token", "", msgs, good, 401},
		{"user token", Token, msgs, good, 401},
		{"unknown route", bot, "/channels/" + TextChannelID + "/nothing", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.Rejections())
			method := http.MethodPost
			if tc.body == "" {
				method = http.MethodGet
			}
			resp, out := do(t, s, method, tc.path, tc.auth, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, out, tc.status)
			}
			if tc.status == 400 && out["code"] != float64(50035) {
				t.Errorf("400 body %v is not Discord's Invalid Form Body", out)
			}
			if len(s.Rejections()) != before+1 {
				t.Errorf("rejection not recorded")
			}
		})
	}
	if n := len(s.Messages(TextChannelID)); n != 0 {
		t.Errorf("%d messages stored from invalid requests", n)
	}
}

func TestBehavesLikeDiscord(t *testing.T) {
	s := New(t)
	now := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	bot := "Bot " + Token
	msgs := "/channels/" + AnnouncementChannelID + "/messages"

	_, first := do(t, s, http.MethodPost, msgs, bot, good)
	_, again := do(t, s, http.MethodPost, msgs, bot, good)
	if first["id"] == nil || first["id"] != again["id"] || first["nonce"] != "n1" {
		t.Fatalf("nonce dedupe: %v then %v", first["id"], again["id"])
	}
	afterWindow := now.Add(10 * time.Minute)
	s.SetClock(func() time.Time { return afterWindow })
	_, later := do(t, s, http.MethodPost, msgs, bot, good)
	if later["id"] == first["id"] {
		t.Fatal("a nonce was remembered past the window")
	}
	id := first["id"].(string)
	resp, _ := do(t, s, http.MethodPost, msgs+"/"+id+"/crosspost", bot, "")
	if resp.StatusCode != 200 {
		t.Fatalf("crosspost: %d", resp.StatusCode)
	}
	resp, out := do(t, s, http.MethodPost, msgs+"/"+id+"/crosspost", bot, "")
	if resp.StatusCode != 400 || out["code"] != float64(40033) {
		t.Fatalf("second crosspost: %d %v", resp.StatusCode, out)
	}
	resp, out = do(t, s, http.MethodPost, "/channels/"+TextChannelID+"/messages/"+id+"/crosspost", bot, "")
	if resp.StatusCode != 400 || out["code"] != float64(50024) {
		t.Fatalf("crosspost in a text channel: %d %v", resp.StatusCode, out)
	}

	s.Inject(Fault{Operation: "create_message", RetryAfter: 1.5})
	resp, out = do(t, s, http.MethodPost, msgs, bot, strings.Replace(good, "n1", "n2", 1))
	h := resp.Header
	if resp.StatusCode != 429 || out["retry_after"] != 1.5 || out["global"] != false || h.Get("Retry-After") != "2" ||
		h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset-After") != "1.500" || h.Get("X-RateLimit-Scope") != "user" || h.Get("X-RateLimit-Bucket") == "" {
		t.Fatalf("route 429: %d %v %v", resp.StatusCode, out, h)
	}
	s.Inject(Fault{Operation: "create_message", RetryAfter: 3, Global: true})
	resp, out = do(t, s, http.MethodPost, msgs, bot, strings.Replace(good, "n1", "n3", 1))
	if resp.StatusCode != 429 || out["global"] != true || resp.Header.Get("X-RateLimit-Global") != "true" || resp.Header.Get("X-RateLimit-Scope") != "global" {
		t.Fatalf("global 429: %d %v %v", resp.StatusCode, out, resp.Header)
	}
	resp, _ = do(t, s, http.MethodPost, msgs, bot, strings.Replace(good, "n1", "n4", 1))
	if resp.Header.Get("X-RateLimit-Limit") == "" || resp.Header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("no rate-limit headers on a normal answer: %v", resp.Header)
	}
	if n := len(s.Messages(AnnouncementChannelID)); n != 3 {
		t.Errorf("%d messages, want 3 (deduped, after the window, after the 429s)", n)
	}

	hook := "/webhooks/" + WebhookID + "/" + WebhookToken
	webhookBody := `{"content":"hi","allowed_mentions":{"parse":[]}}`
	if resp, _ := do(t, s, http.MethodPost, hook, "", webhookBody); resp.StatusCode != 204 {
		t.Errorf("webhook without wait: %d", resp.StatusCode)
	}
	if resp, out := do(t, s, http.MethodPost, hook+"?wait=true", "", webhookBody); resp.StatusCode != 200 || out["webhook_id"] != WebhookID {
		t.Errorf("webhook with wait: %d %v", resp.StatusCode, out)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://discord.com/api/v10"+msgs+"?limit=2", nil)
	req.Header.Set("Authorization", bot)
	req.Header.Set("User-Agent", "DiscordBot (https://example.org, 1)")
	r, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	json.NewDecoder(r.Body).Decode(&list)
	r.Body.Close()
	if len(list) != 2 || list[0]["nonce"] != nil {
		t.Errorf("list: %d messages, nonce %v (Discord does not list nonces)", len(list), list[0]["nonce"])
	}
}

func TestTransportRefusesOtherHosts(t *testing.T) {
	s := New(t)
	if _, err := s.Client().Get("https://example.org/"); err == nil {
		t.Fatal("the transport reached another host")
	}
}

// complaints captures the fake's Errorf calls instead of failing the test.
type complaints struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (c *complaints) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func TestChecksItsOwnAnswersAgainstTheSpec(t *testing.T) {
	c := &complaints{TB: t}
	s := New(c)
	router, _ := spec()
	req, _ := http.NewRequest("POST", "/channels/"+TextChannelID+"/messages", nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	check := func(status int, body string) int {
		c.mu.Lock()
		c.errs = nil
		c.mu.Unlock()
		rec := &recorder{header: http.Header{"Content-Type": {"application/json"}}, status: status}
		rec.body.WriteString(body)
		s.checkAnswer(req, route, params, rec)
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.errs)
	}
	s.mu.Lock()
	m := &Message{ID: "1300000000000000000", ChannelID: TextChannelID, Content: "hi", Created: time.Unix(1700000000, 0)}
	good := s.answer(m, true)
	s.mu.Unlock()
	js, _ := json.Marshal(good)
	if n := check(200, string(js)); n != 0 {
		t.Errorf("the fake's own message was refused: %q", c.errs)
	}
	delete(good, "author")
	js, _ = json.Marshal(good)
	if n := check(200, string(js)); n != 1 {
		t.Errorf("a message without author passed (%d complaints)", n)
	}
	if n := check(429, `{"message":"You are being rate limited.","retry_after":1,"global":false}`); n != 1 {
		t.Errorf("a 429 without code passed (%d complaints)", n)
	}
}

// multipartBody builds a message-with-files body: payload_json, then each
// file as the part named in fields.
func multipartBody(t *testing.T, payload string, fields, names []string, files [][]byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if payload != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="payload_json"`)
		h.Set("Content-Type", "application/json")
		p, _ := mw.CreatePart(h)
		p.Write([]byte(payload))
	}
	for i, f := range files {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, fields[i])
		if names[i] != "" {
			disp += fmt.Sprintf(`; filename=%q`, names[i])
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", "image/png")
		p, _ := mw.CreatePart(h)
		p.Write(f)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func doMultipart(t *testing.T, s *Server, path, contentType string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://discord.com/api/v10"+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bot "+Token)
	req.Header.Set("User-Agent", "DiscordBot (https://example.org, 1)")
	req.Header.Set("Content-Type", contentType)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp, out
}

func TestMultipartUploadsAreChecked(t *testing.T) {
	s := New(t)
	s.AllowRejections()
	msgs := "/channels/" + TextChannelID + "/messages"
	img := []byte("\x89PNG\r\n\x1a\nfake")
	withImage := `{"embeds":[{"title":"t","image":{"url":"attachment://a.png"}}],"attachments":[{"id":"0","filename":"a.png","description":"Chart: victims 2010-2024"}],"allowed_mentions":{"parse":[]}}`

	ct, body := multipartBody(t, withImage, []string{"files[0]"}, []string{"a.png"}, [][]byte{img})
	resp, out := doMultipart(t, s, msgs, ct, body)
	if resp.StatusCode != 200 {
		t.Fatalf("good upload: %d %v", resp.StatusCode, out)
	}
	atts, _ := out["attachments"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["description"] != "Chart: victims 2010-2024" {
		t.Errorf("answer attachments %v", out["attachments"])
	}
	m := s.Messages(TextChannelID)[0]
	if len(m.Attachments) != 1 || string(m.Attachments[0].Data) != string(img) || m.Attachments[0].Spoiler() {
		t.Errorf("stored %+v", m.Attachments)
	}

	for _, tc := range []struct {
		name, payload string
		fields, names []string
		files         [][]byte
		status        int
	}{
		{"no payload_json", "", []string{"files[0]"}, []string{"a.png"}, [][]byte{img}, 400},
		{"unknown part", withImage, []string{"file"}, []string{"a.png"}, [][]byte{img}, 400},
		{"file without a name", withImage, []string{"files[0]"}, []string{""}, [][]byte{img}, 400},
		{"payload breaks the spec", `{"content":5,"allowed_mentions":{"parse":[]}}`, []string{"files[0]"}, []string{"a.png"}, [][]byte{img}, 400},
		{"embed names a file not sent", strings.Replace(withImage, "attachment://a.png", "attachment://b.png", 1), []string{"files[0]"}, []string{"a.png"}, [][]byte{img}, 400},
		{"attachment id without a file", withImage, []string{"files[1]"}, []string{"a.png"}, [][]byte{img}, 400},
		{"over the upload limit", withImage, []string{"files[0]"}, []string{"a.png"}, [][]byte{make([]byte, maxUpload+1)}, 413},
	} {
		ct, body := multipartBody(t, tc.payload, tc.fields, tc.names, tc.files)
		before := len(s.Rejections())
		resp, out := doMultipart(t, s, msgs, ct, body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %v, want %d", tc.name, resp.StatusCode, out, tc.status)
		}
		if len(s.Rejections()) != before+1 {
			t.Errorf("%s: not recorded as a rejection", tc.name)
		}
	}
	if n := len(s.Messages(TextChannelID)); n != 1 {
		t.Errorf("%d messages stored, want only the good one", n)
	}
}
