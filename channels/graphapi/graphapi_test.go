package graphapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
)

const token = "EAAGfakePageTokenForCrierTests0123456789"

// TestErrorsAreClassifiedOnce answers each documented refusal and checks
// the class the engine gets, the wait, and that the token is in no error.
func TestErrorsAreClassifiedOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		status  int
		body    string
		header  map[string]string
		creates bool
		kind    channels.Kind
		wait    time.Duration
		says    string
	}{
		{"expired token", 400, `{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}`, nil, true, channels.KindPermanent, 0, "reconnect: Facebook refused the access token, it has expired"},
		{"revoked token", 400, `{"error":{"message":"The user has not authorized application","type":"OAuthException","code":190,"error_subcode":458}}`, nil, false, channels.KindPermanent, 0, "the app was removed"},
		{"app rate limit", 400, `{"error":{"message":"Application request limit reached","type":"OAuthException","code":4}}`, map[string]string{"X-App-Usage": `{"call_count":100,"total_cputime":12,"total_time":40}`}, true, channels.KindRateLimited, time.Hour, "slow down"},
		{"page rate limit with regain time", 400, `{"error":{"message":"Page request limit reached","type":"OAuthException","code":32}}`, map[string]string{"X-Business-Use-Case-Usage": `{"1234":[{"type":"pages","call_count":100,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":17}]}`}, true, channels.KindRateLimited, 17 * time.Minute, "slow down"},
		{"user rate limit", 400, `{"error":{"message":"User request limit reached","code":17}}`, nil, false, channels.KindRateLimited, 5 * time.Minute, ""},
		{"custom rate limit", 400, `{"error":{"message":"Calls to this api have exceeded the rate limit.","code":613}}`, map[string]string{"Retry-After": "90"}, false, channels.KindRateLimited, 90 * time.Second, ""},
		{"policy", 400, `{"error":{"message":"It looks like you were misusing this feature by going too fast.","code":368,"error_subcode":1390008,"error_user_msg":"You can't post this because it goes against our Community Standards."}}`, nil, true, channels.KindPermanent, 0, "goes against our Community Standards"},
		{"missing permission", 403, `{"error":{"message":"(#200) The user hasn't authorized the application to perform this action","code":200}}`, nil, true, channels.KindPermanent, 0, "lacks a permission"},
		{"server error on create", 500, `{"error":{"message":"An unexpected error has occurred.","code":2,"is_transient":true}}`, nil, true, channels.KindAmbiguous, 0, ""},
		{"server error on read", 500, `{"error":{"message":"An unexpected error has occurred.","code":2,"is_transient":true}}`, nil, false, channels.KindTemporary, 0, ""},
		{"proxy 502 on create", 502, `<html>bad gateway</html>`, nil, true, channels.KindAmbiguous, 0, ""},
		{"proxy 429", 429, `<html>slow</html>`, map[string]string{"Retry-After": "7"}, true, channels.KindRateLimited, 7 * time.Second, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+token || strings.Contains(r.URL.String(), token) {
					t.Errorf("the token must go in the Authorization header only: %s", r.URL)
				}
				if !strings.HasPrefix(r.URL.Path, "/"+graphapi.Version+"/") {
					t.Errorf("path %s does not name the pinned version", r.URL.Path)
				}
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			cl := graphapi.New(graphapi.Options{Base: srv.URL, Token: token, Network: "Facebook", Reconnect: "reconnect the Page on the Channels page"})
			err := cl.Do(context.Background(), graphapi.Call{Method: http.MethodPost, Path: "1234/feed", Creates: c.creates, What: "posting to the Page"}, nil)
			kind, wait := channels.Classify(err)
			if kind != c.kind || wait != c.wait {
				t.Fatalf("got %v wait %s, want %v wait %s: %v", kind, wait, c.kind, c.wait, err)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("the error holds the token: %v", err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not say %q", err, c.says)
			}
		})
	}
}

// TestLostAnswerToACreateIsAmbiguous drops the connection after the
// request went out.
func TestLostAnswerToACreateIsAmbiguous(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer srv.Close()
	cl := graphapi.New(graphapi.Options{Base: srv.URL, Token: token})
	err := cl.Do(context.Background(), graphapi.Call{Method: http.MethodPost, Path: "1/feed", Creates: true, What: "posting"}, nil)
	if k, _ := channels.Classify(err); k != channels.KindAmbiguous {
		t.Fatalf("got %v: %v", k, err)
	}
	var ge *graphapi.Error
	if errors.As(err, &ge) || strings.Contains(err.Error(), token) {
		t.Fatalf("unexpected: %v", err)
	}
}
