package discordfake

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func TestProbe(t *testing.T) {
	start := time.Now()
	l := openapi3.NewLoader()
	doc, err := l.LoadFromFile("/work/shared/specs/discord-openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	t.Log("load", time.Since(start))
	if err := doc.Validate(context.Background()); err != nil {
		t.Log("validate:", err)
	}
	t.Log("validate", time.Since(start))
	doc.Servers = openapi3.Servers{{URL: "http://127.0.0.1/api/v10"}}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("router", time.Since(start))
	for _, body := range []string{
		`{"content":"hi","embeds":[{"title":"x","color":5,"image":{"url":"https://x.org/a.png","description":"alt"}}],"allowed_mentions":{"parse":[]},"nonce":"abc","enforce_nonce":true}`,
		`{"content":"hi","embeds":[{"title":"` + strings.Repeat("x", 300) + `"}]}`,
		`{"content":5}`,
		`{"allowed_mentions":{"parse":["bogus"]}}`,
		`{"nonce":"` + strings.Repeat("x", 30) + `"}`,
		`{"embeds":[{"color":-1}]}`,
		`{"embeds":[{"fields":[{"name":"a"}]}]}`,
		`{"embeds":[{"timestamp":"yesterday"}]}`,
		`{"embeds":[{"url":"not a url"}]}`,
	} {
		req, _ := http.NewRequest("POST", "http://127.0.0.1/api/v10/channels/123456789012345678/messages", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bot x")
		route, params, err := r.FindRoute(req)
		if err != nil {
			t.Fatal(err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
		err = openapi3filter.ValidateRequest(context.Background(), in)
		t.Logf("%.60s => %v", body, err)
	}
	t.Log("done", time.Since(start))
}
