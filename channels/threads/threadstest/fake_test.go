package threadstest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// post makes a form POST to the fake with the test token.
func post(t *testing.T, f *Fake, path string, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1.0/"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// The fake refuses, in the Graph API's error shape, what the documentation
// says Threads refuses.
func TestFakeRefusesWhatThreadsRefuses(t *testing.T) {
	t.Parallel()
	f := New(t)
	var said []string
	f.OnViolation(func(s string) { said = append(said, s) })
	for name, c := range map[string]struct {
		form url.Values
		says string
	}{
		"unknown parameter":      {url.Values{"media_type": {"TEXT"}, "text": {"hi"}, "message": {"hi"}}, `parameter "message" is not documented`},
		"text over 500":          {url.Values{"media_type": {"TEXT"}, "text": {strings.Repeat("a", 499) + "🎉"}}, "over Threads' 500"},
		"link on a picture":      {url.Values{"media_type": {"IMAGE"}, "image_url": {"https://x.example/a.png"}, "link_attachment": {"https://x.example"}}, "text-only posts"},
		"alt text on text":       {url.Values{"media_type": {"TEXT"}, "text": {"hi"}, "alt_text": {"a"}}, "alt_text is for media posts"},
		"topic tag with periods": {url.Values{"media_type": {"TEXT"}, "text": {"hi"}, "topic_tag": {"St. Mary"}}, "without periods"},
		"no media type":          {url.Values{"text": {"hi"}}, "media_type missing"},
		"spoiler past the end":   {url.Values{"media_type": {"TEXT"}, "text": {"hi"}, "text_entities": {`[{"entity_type":"SPOILER","offset":1,"length":5}]`}}, "runs past"},
		"six links":              {url.Values{"media_type": {"TEXT"}, "text": {"https://a.example https://b.example https://c.example https://d.example https://e.example https://f.example"}}, "LINK_LIMIT"},
	} {
		said = nil
		out := post(t, f, UserID+"/threads", c.form)
		e, _ := out["error"].(map[string]any)
		if e == nil || e["code"] != float64(100) || e["fbtrace_id"] == nil || len(said) == 0 || !strings.Contains(strings.Join(said, ";"), c.says) {
			t.Errorf("%s: answer %v, violations %q, want %q", name, out, said, c.says)
		}
	}
}

// The token in a URL is refused as Threads would an unreadable one (and
// Crier must never put it there).
func TestFakeRefusesTheTokenInTheURL(t *testing.T) {
	t.Parallel()
	f := New(t)
	resp, err := http.Get(f.URL + "/v1.0/me?fields=id&access_token=" + Token)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if out.Error.Code != 190 {
		t.Errorf("code %d, want 190", out.Error.Code)
	}
}

// A picture address that answers no picture makes a container in ERROR,
// as Threads' own fetch would.
func TestFakeFetchesThePicture(t *testing.T) {
	t.Parallel()
	f := New(t)
	srv := NewImages(t)
	u, _ := srv.Publish(t.Context(), []byte("not a picture"), "image/png", 0)
	out := post(t, f, UserID+"/threads", url.Values{"media_type": {"IMAGE"}, "image_url": {u}})
	id, _ := out["id"].(string)
	f.mu.Lock()
	c := f.containers[id]
	f.mu.Unlock()
	if c == nil || c.status != "ERROR" || srv.Fetches() != 1 {
		t.Fatalf("container %+v, fetched %d", c, srv.Fetches())
	}
}
