package bluesky

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
)

func TestClassify(t *testing.T) {
	now := time.Now()
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name    string
		err     error
		creates bool
		want    channels.Kind
		wait    time.Duration
	}{
		{"429 with ratelimit-reset", &xrpcError{Status: 429, header: h("Ratelimit-Reset", strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10))}, true, channels.KindRateLimited, 5 * time.Minute},
		{"429 with Retry-After", &xrpcError{Status: 429, header: h("Retry-After", "30")}, true, channels.KindRateLimited, 30 * time.Second},
		{"429 bare", &xrpcError{Status: 429, header: h()}, true, channels.KindRateLimited, time.Minute},
		{"400 lexicon", &xrpcError{Status: 400, Name: "InvalidRequest", Message: "Invalid app.bsky.feed.post record", header: h()}, true, channels.KindPermanent, 0},
		{"401", &xrpcError{Status: 401, Name: "AuthenticationRequired", header: h()}, true, channels.KindPermanent, 0},
		{"500 on a write", &xrpcError{Status: 500, header: h()}, true, channels.KindAmbiguous, 0},
		{"500 on a read", &xrpcError{Status: 500, header: h()}, false, channels.KindTemporary, 0},
		{"408", &xrpcError{Status: 408, header: h()}, true, channels.KindTemporary, 0},
		{"already classified", channels.RateLimited(errors.New("x"), time.Hour), true, channels.KindRateLimited, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classify("writing", fmt.Errorf("com.atproto.repo.createRecord: %w", tc.err), nil, tc.creates)
			k, wait := channels.Classify(err)
			if k != tc.want {
				t.Errorf("kind %v, want %v (%v)", k, tc.want, err)
			}
			if d := wait - tc.wait; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("wait %v, want %v", wait, tc.wait)
			}
		})
	}
	if msg := classify("writing", fmt.Errorf("x: %w", tests[3].err), nil, true).Error(); msg != "writing: x: 400 Bad Request: InvalidRequest: Invalid app.bsky.feed.post record" {
		t.Errorf("message %q does not carry the server's", msg)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := Config{Service: "ftp://x", Handle: "not a handle", Language: "english", Hashtags: []string{"2024"},
		Labels: map[string]string{"gore": "gore"}, DefaultLabel: "spoiler", Embed: "video", Mode: channels.ModeSend}
	fields := map[string]bool{}
	for _, p := range bad.Validate() {
		fields[p.Field] = true
	}
	for _, f := range []string{"service", "handle", "language", "hashtags[0]", "labels.gore", "default_label", "embed", "app_password"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s (got %v)", f, fields)
		}
	}
	good := Config{Handle: "camaca.bsky.social", AppPassword: "abcd-efgh-ijkl-mnop", Language: "pt-BR", Labels: map[string]string{"x": "graphic-media"}, Embed: "card", Mode: channels.ModeSend}
	if p := good.Validate(); len(p) != 0 {
		t.Errorf("valid config reported %v", p)
	}
	if good.ServiceURL() != DefaultService {
		t.Errorf("service %q", good.ServiceURL())
	}
}
