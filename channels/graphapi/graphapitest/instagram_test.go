package graphapitest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestInstagramCallsAreCheckedAgainstTheSpecs checks the checker on the
// calls the Instagram channel makes, and that it names a wrong one.
func TestInstagramCallsAreCheckedAgainstTheSpecs(t *testing.T) {
	t.Parallel()
	f := &Fake{}
	if err := newIG(f); err != nil {
		t.Fatal(err)
	}
	s := f.ig
	for _, c := range []struct {
		spec         nodeSpec
		method, edge string
		params       map[string]string
	}{
		{s.user, "POST", "media", map[string]string{"image_url": "https://x/1.jpg", "caption": "hi", "alt_text": "a march"}},
		{s.user, "POST", "media_publish", map[string]string{"creation_id": "17900000000001001"}},
		{s.user, "GET", "media", map[string]string{"fields": "id,caption,permalink,timestamp", "limit": "25"}},
		{s.user, "GET", "", map[string]string{"fields": "username,name"}},
		{s.builder, "GET", "", map[string]string{"fields": "status_code,status"}},
		{s.media, "GET", "", map[string]string{"fields": "id,like_count,comments_count,permalink,comments.limit(5){text,timestamp}"}},
		{s.media, "GET", "insights", map[string]string{"metric": "shares"}},
		{s.media, "GET", "comments", map[string]string{"fields": "id,text", "limit": "50"}},
		{s.media, "POST", "comments", map[string]string{"message": "Correction: 8pm"}},
		{s.media, "DELETE", "", map[string]string{}},
	} {
		if bad := s.check(c.spec, "node", c.method, c.edge, c.params); len(bad) > 0 {
			t.Errorf("%s %s: %v", c.method, c.edge, bad)
		}
	}
	for _, c := range []struct {
		spec         nodeSpec
		method, edge string
		params       map[string]string
		says         string
	}{
		{s.user, "POST", "media", map[string]string{"image_url": "https://x/1.jpg", "alttext": "typo"}, `"alttext" is not in Meta's spec`},
		{s.user, "POST", "media_publish", map[string]string{}, "required parameter creation_id missing"},
		{s.user, "POST", "media_publish", map[string]string{"creation_id": "container:1"}, "is not a unsigned int"},
		{s.user, "GET", "media", map[string]string{"fields": "id,message"}, `field "message"`},
		{s.media, "POST", "", map[string]string{"caption": "edited"}, `"caption" is not in Meta's spec`},
		{s.builder, "GET", "", map[string]string{"fields": "status_code,progress"}, `field "progress"`},
		{s.user, "GET", "media", map[string]string{"limit": "500"}, "limit"},
	} {
		bad := s.check(c.spec, "node", c.method, c.edge, c.params)
		if len(bad) == 0 || !strings.Contains(strings.Join(bad, ";"), c.says) {
			t.Errorf("%s %s %v: got %v, want %q", c.method, c.edge, c.params, bad, c.says)
		}
	}
}

// TestInstagramFetchesImageURL: the fake refuses an http image_url until
// told, and a URL that serves no picture, as Instagram does.
func TestInstagramFetchesImageURL(t *testing.T) {
	t.Parallel()
	fake, images := New(t), NewImages(t)
	text, _ := images.Publish(t.Context(), []byte("not a picture"), "text/plain", 1)
	create := func(imageURL string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, fake.URL+"/v21.0/"+IGUserID+"/media", strings.NewReader(url.Values{"image_url": {imageURL}, "caption": {"hi"}}.Encode()))
		req.Header.Set("Authorization", "Bearer "+Token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, out := create(text); code != 400 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "https") {
		t.Errorf("http image_url: %d %v", code, out)
	}
	fake.AllowHTTPImages()
	if code, out := create(text); code != 400 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "not a JPEG") {
		t.Errorf("text as image_url: %d %v", code, out)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 10, 10))); err != nil {
		t.Fatal(err)
	}
	pic, _ := images.Publish(t.Context(), b.Bytes(), "image/png", 1)
	if code, out := create(pic); code != 400 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "not a JPEG") {
		t.Errorf("PNG as image_url: %d %v", code, out)
	}
	if len(fake.Containers()) != 0 {
		t.Errorf("containers %+v", fake.Containers())
	}
	fake.AllowPNGImages()
	if code, out := create(pic); code != 200 {
		t.Errorf("PNG allowed: %d %v", code, out)
	}
}

// TestInstagramForgetsAContainer: a container Instagram no longer keeps
// answers Meta's "does not exist", code 100 subcode 33.
func TestInstagramForgetsAContainer(t *testing.T) {
	t.Parallel()
	fake := New(t)
	fake.ForgetContainer("17999999999999999")
	req, _ := http.NewRequest(http.MethodGet, fake.URL+"/v21.0/17999999999999999?fields=status_code,status", nil)
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct {
			Code    int `json:"code"`
			Subcode int `json:"error_subcode"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Error.Code != 100 || out.Error.Subcode != 33 {
		t.Errorf("forgotten container: %d %+v %v", resp.StatusCode, out, err)
	}
}
