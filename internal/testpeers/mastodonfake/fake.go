// Package mastodonfake provides a fast in-process Mastodon API server for
// tests. Every request it receives, and every answer it gives, is checked
// against the community OpenAPI description of the Mastodon API 4.7
// (testdata/specs/mastodon-openapi.json at the repository root, MIT licence);
// a mismatch fails the test. It answers like a real server: bearer-token auth, the character
// limit counted as Mastodon counts it (with the instance's own
// characters_reserved_per_url), Idempotency-Key replays per account for an
// hour, status HTML with Mastodon's links, hashtags and mentions,
// asynchronous media processing (202, then 206 until 200) and, when told
// to, 429 with X-RateLimit-* headers, a response lost after the status was
// created, or an error answered after the server acted.
package mastodonfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/crierhq/crier/internal/testpeers/openapispec"
)

// Options shape the fake instance.
type Options struct {
	// Token is the bearer token the fake accepts ("fake-token" if empty).
	Token string
	// MaxCharacters and CharactersReservedPerURL are reported by
	// /api/v2/instance and enforced (500 and 23 if zero): a status is
	// measured by the fake's own port of Mastodon's StatusLengthValidator,
	// every URL counting as CharactersReservedPerURL.
	MaxCharacters            int
	CharactersReservedPerURL int
	// Now is the fake's clock (status times, Idempotency-Key expiry);
	// time.Now if nil.
	Now func() time.Time
	// MediaPolls is how many GET /api/v1/media/:id answer 206 before 200
	// after an upload answered 202. Zero makes uploads answer 200 at once.
	MediaPolls int
	// IgnoreIdempotencyKey makes the fake post duplicates as GoToSocial
	// does.
	IgnoreIdempotencyKey bool
	// NoV2Instance makes /api/v2/instance answer 404, as older servers do.
	NoV2Instance bool
}

// Response is a canned answer.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Status is a status the fake holds.
type Status struct {
	ID             string
	AccountID      string
	Text           string
	SpoilerText    string
	Visibility     string
	Language       string
	Sensitive      bool
	InReplyToID    string
	MediaIDs       []string
	IdempotencyKey string
	CreatedAt      time.Time
}

// Media is an uploaded attachment.
type Media struct {
	ID          string
	Description string
	Size        int
	ContentType string
	polls       int
	Attached    bool
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	t      testing.TB
	opts   Options
	router routers.Router

	mu        sync.Mutex
	nextID    int
	accounts  map[string]acct // by access token
	statuses  []*Status
	media     map[string]*Media
	keys      map[idemKey]idemEntry
	canned    map[string][]Response
	after     map[string][]Response
	lose      map[string]int
	rateLimit *rateLimit
	requests  map[string]int
}

// idemKey is an Idempotency-Key as Mastodon stores it: per account
// ("idempotency:status:ACCOUNT:KEY"), here per access token since every
// token of the fake is its own account.
type idemKey struct{ token, key string }

// acct is an account of the instance.
type acct struct{ id, username string }

type idemEntry struct {
	statusID string
	at       time.Time
}

// idempotencyTTL is how long Mastodon keeps a key (PostStatusService).
const idempotencyTTL = time.Hour

type rateLimit struct {
	remaining int
	reset     time.Time
}

// loadSpec parses the description once per test binary; it is read-only
// afterwards.
var loadSpec = sync.OnceValues(func() (routers.Router, error) {
	spec, err := openapispec.Load("mastodon-openapi.json")
	if err != nil {
		return nil, err
	}
	// The description's server is https://{hostname}; match any host.
	spec.Servers = openapi3.Servers{{URL: "/"}}
	// Known faults of the description: the Idempotency-Key header is
	// typed as an object (it is a string); a status with both text and
	// media matches two of the "oneOf" request bodies (Mastodon accepts
	// it: the alternatives overlap, so it is checked as "anyOf"); some
	// examples and defaults do not match their schemas. Fix the first
	// two, skip checking the rest.
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				for _, mt := range rb.Value.Content {
					if sc := mt.Schema; sc != nil && sc.Value != nil && len(sc.Value.OneOf) > 0 {
						sc.Value.AnyOf, sc.Value.OneOf = sc.Value.OneOf, nil
					}
				}
			}
			for _, p := range op.Parameters {
				if p.Value != nil && strings.EqualFold(p.Value.Name, "Idempotency-Key") {
					p.Value.Schema = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
				}
			}
		}
	}
	return legacy.NewRouter(spec, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
})

// New starts a fake and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	rt, err := loadSpec()
	if err != nil {
		t.Fatalf("mastodonfake: loading the Mastodon OpenAPI description: %v", err)
	}
	if opts.Token == "" {
		opts.Token = "fake-token"
	}
	if opts.MaxCharacters == 0 {
		opts.MaxCharacters = 500
	}
	if opts.CharactersReservedPerURL == 0 {
		opts.CharactersReservedPerURL = 23
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		t: t, opts: opts, router: rt, nextID: 100000,
		accounts: map[string]acct{opts.Token: {accountID, "crier"}},
		media:    map[string]*Media{}, keys: map[idemKey]idemEntry{}, canned: map[string][]Response{},
		after: map[string][]Response{}, lose: map[string]int{}, requests: map[string]int{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Token is the bearer token the fake accepts.
func (s *Server) Token() string { return s.opts.Token }

// AddAccount creates another account on the instance and returns its
// access token. Its statuses, and its Idempotency-Keys, are its own.
func (s *Server) AddAccount(username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := "token-of-" + username
	s.nextID++
	s.accounts[token] = acct{strconv.Itoa(s.nextID), username}
	return token
}

// SetClock replaces the fake's clock.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Now = now
}

// FailAfterNext makes the next request to method and path be handled (a
// status is created) and then answered with r instead of the real answer,
// as when a proxy fails after the server acted (a 502 from nginx).
func (s *Server) FailAfterNext(method, path string, r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after[method+" "+path] = append(s.after[method+" "+path], r)
}

// FailNext makes the next request to method and path (e.g. "POST",
// "/api/v1/statuses") get r instead of being handled.
func (s *Server) FailNext(method, path string, r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.canned[method+" "+path] = append(s.canned[method+" "+path], r)
}

// RateLimited makes the next request to method and path answer 429 with
// X-RateLimit-Reset at reset, as Mastodon does.
func (s *Server) RateLimited(method, path string, reset time.Time) {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "300")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04:05.000000Z"))
	s.FailNext(method, path, Response{Status: http.StatusTooManyRequests, Header: h, Body: `{"error":"Too many requests"}`})
}

// SetRateLimit makes every answer carry X-RateLimit-Remaining (counting down
// from remaining) and X-RateLimit-Reset.
func (s *Server) SetRateLimit(remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = &rateLimit{remaining: remaining, reset: reset}
}

// LoseNextResponse makes the next request to method and path be handled
// and then answered by closing the connection, as when a response is lost.
func (s *Server) LoseNextResponse(method, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose[method+" "+path]++
}

// Statuses returns the statuses posted so far, oldest first.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.statuses))
	for i, st := range s.statuses {
		out[i] = *st
	}
	return out
}

// MediaByID returns an uploaded attachment.
func (s *Server) MediaByID(id string) (Media, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.media[id]
	if !ok {
		return Media{}, false
	}
	return *m, true
}

// Requests counts the requests received for method and path pattern (as in
// the description, e.g. "GET /api/v1/media/{id}").
func (s *Server) Requests(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

// recorder captures an answer so it can be checked against the description
// before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		s.t.Errorf("mastodonfake: %s %s is not in the Mastodon API description: %v", req.Method, req.URL.Path, err)
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
		return
	}
	key := req.Method + " " + route.Path
	s.mu.Lock()
	s.requests[key]++
	s.mu.Unlock()

	in := &openapi3filter.RequestValidationInput{
		Request: requestForValidation(req, body, route), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: s.authenticate, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		var sec *openapi3filter.SecurityRequirementsError
		if asSecurity(err, &sec) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "The access token is invalid"})
			return
		}
		s.t.Errorf("mastodonfake: %s %s does not match the Mastodon API description: %v", req.Method, req.URL.Path, err)
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Validation failed: " + err.Error()})
		return
	}

	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	s.mu.Lock()
	canned := s.canned[req.Method+" "+req.URL.Path]
	if len(canned) > 0 {
		s.canned[req.Method+" "+req.URL.Path] = canned[1:]
	}
	after := s.after[req.Method+" "+req.URL.Path]
	actFirst := len(canned) == 0 && len(after) > 0
	if actFirst {
		s.after[req.Method+" "+req.URL.Path] = after[1:]
		canned = after[:1]
	}
	lose := s.lose[req.Method+" "+req.URL.Path] > 0
	if lose {
		s.lose[req.Method+" "+req.URL.Path]--
	}
	if s.rateLimit != nil {
		rec.header.Set("X-RateLimit-Limit", "300")
		rec.header.Set("X-RateLimit-Remaining", strconv.Itoa(max(s.rateLimit.remaining, 0)))
		rec.header.Set("X-RateLimit-Reset", s.rateLimit.reset.UTC().Format("2006-01-02T15:04:05.000000Z"))
		s.rateLimit.remaining--
	}
	s.mu.Unlock()

	if actFirst {
		// The server acts; the client hears only the proxy's error.
		s.handle(&recorder{header: http.Header{}, status: http.StatusOK}, req, route.Path, params, body)
	}
	if len(canned) > 0 {
		r := canned[0]
		for k, v := range r.Header {
			rec.header[k] = v
		}
		if rec.header.Get("Content-Type") == "" {
			rec.header.Set("Content-Type", "application/json; charset=utf-8")
		}
		rec.WriteHeader(r.Status)
		rec.Write([]byte(r.Body))
	} else {
		s.handle(rec, req, route.Path, params, body)
	}

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.status, Header: rec.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(rec.body.Bytes())
	// A canned 5xx stands for a proxy in front of Mastodon (nginx's 502),
	// which the description does not describe.
	proxy := len(canned) > 0 && rec.status >= 500
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil && !proxy {
		s.t.Errorf("mastodonfake: the fake's answer to %s %s (%d) does not match the description: %v", req.Method, req.URL.Path, rec.status, err)
	}
	if lose {
		// Handled, but the client never hears back.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}

func asSecurity(err error, target **openapi3filter.SecurityRequirementsError) bool {
	for err != nil {
		if e, ok := err.(*openapi3filter.SecurityRequirementsError); ok {
			*target = e
			return true
		}
		if me, ok := err.(openapi3.MultiError); ok {
			for _, e := range me {
				if asSecurity(e, target) {
					return true
				}
			}
			return false
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func (s *Server) authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	token, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.accounts[token]; !ok || !known {
		return fmt.Errorf("missing or wrong bearer token")
	}
	return nil
}

// requestForValidation gives the validator a copy of req. The description
// documents only JSON bodies for some operations (POST /api/v1/statuses)
// while Mastodon also takes form parameters, which go-mastodon sends; such a
// form is checked as the equivalent JSON object.
func requestForValidation(req *http.Request, body []byte, route *routers.Route) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	rb := route.Operation.RequestBody
	if ct == "application/x-www-form-urlencoded" && rb != nil && rb.Value != nil && rb.Value.Content.Get(ct) == nil && rb.Value.Content.Get("application/json") != nil {
		form, _ := url.ParseQuery(string(body))
		js, _ := json.Marshal(formToJSON(form))
		r.Body = io.NopCloser(bytes.NewReader(js))
		r.ContentLength = int64(len(js))
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// formToJSON maps Rails-style form parameters to JSON: "a[]" is an array,
// "a[b]" a nested object, "true"/"false" booleans.
func formToJSON(form url.Values) map[string]any {
	out := map[string]any{}
	for k, vs := range form {
		if name, ok := strings.CutSuffix(k, "[]"); ok {
			if outer, inner, ok := strings.Cut(name, "["); ok {
				m, _ := out[outer].(map[string]any)
				if m == nil {
					m = map[string]any{}
					out[outer] = m
				}
				m[strings.TrimSuffix(inner, "]")] = vs
				continue
			}
			out[name] = vs
			continue
		}
		v := vs[0]
		var val any = v
		if v == "true" || v == "false" {
			val = v == "true"
		}
		if outer, inner, ok := strings.Cut(k, "["); ok {
			m, _ := out[outer].(map[string]any)
			if m == nil {
				m = map[string]any{}
				out[outer] = m
			}
			if n, err := strconv.Atoi(v); err == nil {
				val = n
			}
			m[strings.TrimSuffix(inner, "]")] = val
			continue
		}
		out[k] = val
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
