// Package discordfake provides a fake Discord HTTP API for tests: every
// request is checked against Discord's official OpenAPI spec (path, method,
// query, headers, JSON body), every answer the fake gives is checked against
// it too (a mismatch fails the test: forced 5xx answers excepted, which stand
// for Cloudflare), and requests are answered the way Discord answers: snowflake
// ids, nonce dedupe with enforce_nonce, announcement channels and crossposts
// (error 40033 the second time), webhooks with ?wait=true, rate-limit headers
// and, on request, 429s, errors and lost responses.
package discordfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Fixed ids of what New creates.
const (
	GuildID               = "900000000000000001"
	BotUserID             = "900000000000000002"
	TextChannelID         = "900000000000000010" // type 0
	AnnouncementChannelID = "900000000000000011" // type 5
	ForbiddenChannelID    = "900000000000000012" // the bot may not post here: 403
	WebhookID             = "900000000000000020" // posts to TextChannelID
	AnnouncementWebhookID = "900000000000000021" // posts to AnnouncementChannelID
	Token                 = "fake-bot-token"
	WebhookToken          = "fake-webhook-token"
)

// Channel types.
const (
	ChannelText         = 0
	ChannelAnnouncement = 5
)

// discordEpoch is the first second of 2015 in milliseconds.
const discordEpoch = 1420070400000

// nonceWindow is how long Discord remembers a nonce for enforce_nonce.
const nonceWindow = 5 * time.Minute

// Message is a message as the fake stores it.
type Message struct {
	ID        string          `json:"id"`
	ChannelID string          `json:"channel_id"`
	WebhookID string          `json:"webhook_id,omitempty"`
	Body      json.RawMessage `json:"-"` // the request body as received
	Content   string          `json:"content"`
	Embeds    []map[string]any
	Nonce     string
	// Pinged lists what the message actually pinged: role ids, "everyone".
	Pinged      []string
	Crossposted int // successful crossposts
	Created     time.Time
	// Edits counts the edits the message had; Edited is the last's time.
	Edits  int
	Edited time.Time
	// Attachments are the files uploaded with the message (multipart).
	Attachments []Attachment
	// Reactions are people's reactions, in the order first added (React).
	Reactions []Reaction
}

// Reaction is one emoji's reactions on a message.
type Reaction struct {
	Emoji         string // a Unicode emoji
	Normal, Burst int    // plain and super reactions
}

// React adds n plain reactions with emoji to message id, as members of the
// server would; it fails the test when there is no such message.
func (s *Server) React(id, emoji string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.ID != id {
			continue
		}
		for i := range m.Reactions {
			if m.Reactions[i].Emoji == emoji {
				m.Reactions[i].Normal += n
				return
			}
		}
		m.Reactions = append(m.Reactions, Reaction{Emoji: emoji, Normal: n})
		return
	}
	s.t.Errorf("discordfake: React: no message %s", id)
}

// Attachment is a file uploaded with a message.
type Attachment struct {
	ID          string
	Filename    string
	Description string
	ContentType string
	Data        []byte
}

// Spoiler reports whether Discord shows the file blurred until clicked.
func (a Attachment) Spoiler() bool { return strings.HasPrefix(a.Filename, "SPOILER_") }

// maxUpload is Discord's per-file upload limit for servers without boosts.
const maxUpload = 10 << 20

// Request is one request the fake saw.
type Request struct {
	Method    string
	Path      string // without /api/vN, webhook token redacted
	Operation string // the spec's operationId, "" when unknown
	Status    int
}

// Fault is an answer to force on a matching request.
type Fault struct {
	// Operation is the spec's operationId to match: "create_message",
	// "crosspost_message", "execute_webhook", "get_channel",
	// "list_messages", "get_my_user", and for edits "get_message",
	// "update_message", "delete_message" and their "_webhook_message"
	// counterparts.
	Operation string
	// Status, when set, answers with this status and Discord error code
	// and message, without acting on the request (e.g. 500, 403).
	Status  int
	Code    int
	Message string
	// RetryAfter answers 429 with retry_after in seconds, without acting.
	RetryAfter float64
	// Global makes the 429 a global rate limit.
	Global bool
	// DropResponse acts on the request, then closes the connection without
	// answering: the client cannot know whether it worked.
	DropResponse bool
	// Hang acts on the request, then answers nothing until the client
	// gives up (its deadline passes): a timeout after the request was
	// written.
	Hang bool
}

// Server is the fake Discord API.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:port); Discord's
	// routes live under /api/v10 (and /api/v9, which discordgo uses).
	URL string

	t      testing.TB
	srv    *httptest.Server
	router routers.Router

	mu         sync.Mutex
	now        func() time.Time
	seq        int64
	channels   map[string]int // id -> type
	webhooks   map[string]string
	messages   []*Message
	nonces     map[string]nonceEntry
	faults     []Fault
	requests   []Request
	rejections []string
	allowBad   bool
	limit      int
	window     time.Duration
	buckets    map[string]*bucket
	// botPerms are the bot role's permissions when botPermsSet.
	botPerms    int64
	botPermsSet bool
}

type nonceEntry struct {
	msg *Message
	at  time.Time
}

type bucket struct {
	used  int
	reset time.Time
}

// New starts a fake with a guild, a text channel, an announcement channel,
// a forbidden channel and a webhook for each of the first two. It fails the
// test at cleanup if any request broke the spec, unless AllowRejections was
// called.
func New(t testing.TB) *Server {
	t.Helper()
	router, err := spec()
	if err != nil {
		t.Fatalf("discordfake: %v", err)
	}
	s := &Server{
		t:      t,
		router: router,
		now:    time.Now,
		channels: map[string]int{
			TextChannelID: ChannelText, AnnouncementChannelID: ChannelAnnouncement, ForbiddenChannelID: ChannelText,
		},
		webhooks: map[string]string{WebhookID: TextChannelID, AnnouncementWebhookID: AnnouncementChannelID},
		nonces:   map[string]nonceEntry{},
		buckets:  map[string]*bucket{},
		limit:    50,
		window:   5 * time.Second,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.allowBad {
			for _, r := range s.rejections {
				t.Errorf("discordfake: rejected a request: %s", r)
			}
		}
	})
	return s
}

// WebhookURL is the Discord-style URL of a webhook New created.
func WebhookURL(id string) string {
	return "https://discord.com/api/webhooks/" + id + "/" + WebhookToken
}

// SetClock replaces the fake's clock (nonce window, snowflakes, buckets).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetRouteLimit sets the per-route bucket: limit requests per window (the
// default is 50 per 5 s, so tests rarely meet it).
func (s *Server) SetRouteLimit(limit int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.window = limit, window
}

// AllowRejections stops the cleanup check for tests that send bad requests
// on purpose.
func (s *Server) AllowRejections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowBad = true
}

// Inject queues a fault for the next request of f.Operation.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Messages returns copies of the messages posted to a channel, oldest first.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.ChannelID == channelID {
			out = append(out, *m)
		}
	}
	return out
}

// Requests returns every request seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Rejections returns why requests were refused as invalid.
func (s *Server) Rejections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejections...)
}

// Transport sends requests for discord.com (and discordapp.com) to the fake
// instead; discordgo computes its endpoints at package load, so tests
// redirect them here. Other hosts are refused: tests never reach the network.
func (s *Server) Transport() http.RoundTripper {
	target, _ := url.Parse(s.URL)
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		switch req.URL.Hostname() {
		case "discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com", target.Hostname():
		default:
			return nil, fmt.Errorf("discordfake: refusing to contact %s", req.URL.Host)
		}
		r := req.Clone(req.Context())
		r.URL.Scheme = target.Scheme
		r.URL.Host = target.Host
		r.Host = target.Host
		return http.DefaultTransport.RoundTrip(r)
	})
}

// Client is an http.Client using Transport.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: s.Transport(), Timeout: 10 * time.Second}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var versionPrefix = regexp.MustCompile(`^/api(/v(9|10))?/`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 26<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, 0, "unreadable body")
		return
	}
	loc := versionPrefix.FindStringIndex(r.URL.Path)
	if loc == nil {
		s.record(r, "", http.StatusNotFound, "")
		writeError(w, http.StatusNotFound, 0, "404: Not Found")
		return
	}
	path := "/" + r.URL.Path[loc[1]:]
	logPath := strings.ReplaceAll(path, WebhookToken, "TOKEN")

	// A multipart body (a message with files) is checked as the JSON its
	// payload_json part carries, plus Discord's rules for the files.
	var uploads []upload
	multipart := strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
	if multipart {
		payload, ups, status, problem := readMultipart(r.Header.Get("Content-Type"), body)
		if problem != "" {
			s.record(r, "", status, logPath)
			s.reject(fmt.Sprintf("%s %s: multipart body: %s", r.Method, logPath, problem))
			writeError(w, status, 0, problem)
			return
		}
		body, uploads = payload, ups
	}

	// Route and validate against the spec.
	vr := r.Clone(r.Context())
	if multipart {
		vr.Header.Set("Content-Type", "application/json")
		vr.ContentLength = int64(len(body))
	}
	vr.URL = &url.URL{Path: path, RawQuery: r.URL.RawQuery}
	vr.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(vr)
	if err != nil {
		s.record(r, "", http.StatusNotFound, logPath)
		s.reject(fmt.Sprintf("%s %s: no such route in the spec: %v", r.Method, logPath, err))
		writeError(w, http.StatusNotFound, 0, "404: Not Found")
		return
	}
	op := route.Operation.OperationID
	if multipart && !multipartOps[op] {
		s.record(r, op, http.StatusBadRequest, logPath)
		s.reject(fmt.Sprintf("%s %s (%s): the spec takes no multipart body here", r.Method, logPath, op))
		writeError(w, http.StatusBadRequest, 0, "multipart body on a route without one")
		return
	}
	status, problem := s.check(vr, route, params, body, op, uploads)
	if problem != "" {
		s.record(r, op, status, logPath)
		s.reject(fmt.Sprintf("%s %s (%s): %s", r.Method, logPath, op, problem))
		if status == http.StatusBadRequest {
			writeJSON(w, status, map[string]any{"code": 50035, "message": "Invalid Form Body",
				"errors": map[string]any{"_errors": []map[string]string{{"code": "BASE_TYPE_INVALID", "message": problem}}}})
		} else {
			writeError(w, status, 0, problem)
		}
		return
	}

	// Every answer is built in rec and checked against the spec before it
	// goes out (or is thrown away, for a dropped or hung response).
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	defer func() {
		if !rec.drop {
			s.checkAnswer(vr, route, params, rec)
		}
		if rec.drop {
			return
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
	}()

	s.mu.Lock()
	fault, faulted := s.takeFault(op)
	s.mu.Unlock()
	if faulted && fault.RetryAfter > 0 {
		s.record(r, op, http.StatusTooManyRequests, logPath)
		s.tooMany(rec, op, params, fault.RetryAfter, fault.Global)
		return
	}
	if faulted && fault.Status != 0 {
		s.record(r, op, fault.Status, logPath)
		rec.forced = true
		writeError(rec, fault.Status, fault.Code, fault.Message)
		return
	}
	if wait, limited := s.spend(op, params); limited {
		s.record(r, op, http.StatusTooManyRequests, logPath)
		s.tooMany(rec, op, params, wait, false)
		return
	}

	status, answer := s.act(r, op, params, body, uploads)
	s.record(r, op, status, logPath)
	s.rateHeaders(rec, op, params)
	if answer == nil {
		rec.WriteHeader(status)
	} else {
		writeJSON(rec, status, answer)
	}
	if faulted && (fault.Hang || fault.DropResponse) {
		// Checked now: the test may be over when a hung request ends.
		s.checkAnswer(vr, route, params, rec)
	}
	if faulted && fault.Hang {
		rec.drop = true
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	}
	if faulted && fault.DropResponse {
		rec.drop = true
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("discordfake: cannot drop the response: no hijacker")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
}

// recorder holds an answer until it has been checked against the spec.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	drop   bool
	forced bool // a Fault's status
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// checkAnswer fails the test when the fake's own answer breaks the spec: a
// client tested against an answer Discord never gives proves nothing.
func (s *Server) checkAnswer(r *http.Request, route *routers.Route, params map[string]string, rec *recorder) {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 rec.status, Header: rec.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(rec.body.Bytes())
	// A forced 5xx stands for Cloudflare or an outage, which the spec does
	// not describe.
	if rec.forced && rec.status >= 500 {
		return
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		s.t.Errorf("discordfake: the fake's answer to %s %s (%s, %d) does not match Discord's OpenAPI spec: %v",
			r.Method, strings.ReplaceAll(r.URL.Path, WebhookToken, "TOKEN"), route.Operation.OperationID, rec.status, err)
	}
}

func (s *Server) record(r *http.Request, op string, status int, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Operation: op, Status: status})
}

func (s *Server) reject(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejections = append(s.rejections, why)
}

func (s *Server) takeFault(op string) (Fault, bool) {
	for i, f := range s.faults {
		if f.Operation == op {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return f, true
		}
	}
	return Fault{}, false
}

var userAgent = regexp.MustCompile(`^DiscordBot \(\S+, \S+\)`)

// check validates a request: authentication, User-Agent, the spec, then
// what Discord checks beyond the spec. It returns the status to answer and
// the problem, or "" when the request is fine.
func (s *Server) check(r *http.Request, route *routers.Route, params map[string]string, body []byte, op string, uploads []upload) (int, string) {
	webhook := strings.HasPrefix(route.Path, "/webhooks/{webhook_id}/{webhook_token}")
	if !webhook && r.Header.Get("Authorization") != "Bot "+Token {
		return http.StatusUnauthorized, "401: Unauthorized (the Authorization header must be \"Bot <token>\")"
	}
	if !userAgent.MatchString(r.Header.Get("User-Agent")) {
		return http.StatusBadRequest, fmt.Sprintf("User-Agent %q is not of the form \"DiscordBot ($url, $version)\"", r.Header.Get("User-Agent"))
	}
	if len(body) > 0 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return http.StatusBadRequest, fmt.Sprintf("Content-Type %q: the fake takes JSON bodies only", r.Header.Get("Content-Type"))
	}
	if len(body) == 0 && r.Header.Get("Content-Type") != "" {
		// Discord answers 400 when Content-Type is set on an empty body.
		return http.StatusBadRequest, "Content-Type set on a request without a body"
	}
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return http.StatusBadRequest, "does not match Discord's OpenAPI spec: " + err.Error()
	}
	if op == "create_message" || op == "execute_webhook" || op == "update_message" || op == "update_webhook_message" {
		if problem := checkMessage(body, op == "execute_webhook", uploads); problem != "" {
			return http.StatusBadRequest, problem
		}
	}
	return 0, ""
}

// checkMessage applies the rules Discord enforces that the spec does not
// state: the 2000-character content, the 6000 total across embeds, http(s)
// URLs, an explicit and consistent allowed_mentions.
func checkMessage(body []byte, webhook bool, uploads []upload) string {
	var m struct {
		Attachments []struct {
			ID       json.RawMessage `json:"id"`
			Filename string          `json:"filename"`
		} `json:"attachments"`
		Content         *string          `json:"content"`
		Embeds          []map[string]any `json:"embeds"`
		AllowedMentions *struct {
			Parse []string `json:"parse"`
			Roles []string `json:"roles"`
		} `json:"allowed_mentions"`
		Nonce        any   `json:"nonce"`
		EnforceNonce *bool `json:"enforce_nonce"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "body is not a JSON object: " + err.Error()
	}
	content := ""
	if m.Content != nil {
		content = *m.Content
	}
	if n := discordLen(content); n > 2000 {
		return fmt.Sprintf("content: must be 2000 or fewer in length (got %d)", n)
	}
	if content == "" && len(m.Embeds) == 0 {
		return "Cannot send an empty message (50006)"
	}
	total := 0
	for i, e := range m.Embeds {
		for _, k := range []string{"title", "description"} {
			if v, ok := e[k].(string); ok {
				total += discordLen(v)
			}
		}
		if a, ok := e["author"].(map[string]any); ok {
			if v, ok := a["name"].(string); ok {
				total += discordLen(v)
			}
		}
		if f, ok := e["footer"].(map[string]any); ok {
			if v, ok := f["text"].(string); ok {
				total += discordLen(v)
			}
		}
		if fs, ok := e["fields"].([]any); ok {
			for _, f := range fs {
				if f, ok := f.(map[string]any); ok {
					for _, k := range []string{"name", "value"} {
						v, _ := f[k].(string)
						if strings.TrimSpace(v) == "" {
							return fmt.Sprintf("embeds.%d.fields: %s must not be empty", i, k)
						}
						total += discordLen(v)
					}
				}
			}
		}
		for _, u := range []string{"url", "image.url", "author.url", "thumbnail.url"} {
			v := lookup(e, u)
			if v == "" {
				continue
			}
			if name, ok := strings.CutPrefix(v, "attachment://"); ok && (u == "image.url" || u == "thumbnail.url") {
				if uploadNamed(uploads, m.Attachments, name) {
					continue
				}
				return fmt.Sprintf("embeds.%d.%s: %q names no file uploaded with the message (the fake insists: Discord would show no image)", i, u, v)
			}
			p, err := url.Parse(v)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return fmt.Sprintf("embeds.%d.%s: Not a well formed URL (%q)", i, u, v)
			}
		}
		if ts, ok := e["timestamp"].(string); ok {
			if _, err := time.Parse(time.RFC3339, ts); err != nil {
				return fmt.Sprintf("embeds.%d.timestamp: %q is not ISO 8601", i, ts)
			}
		}
	}
	if total > 6000 {
		return fmt.Sprintf("embeds: the total of all embeds' text must be 6000 or fewer in length (got %d)", total)
	}
	// Crier always states who may be pinged; Discord's default (parse
	// everything) is exactly what must never happen with feed text.
	if m.AllowedMentions == nil || m.AllowedMentions.Parse == nil {
		return "allowed_mentions.parse must be given (the fake insists: Discord's default pings everything the text mentions)"
	}
	for _, p := range m.AllowedMentions.Parse {
		if p == "roles" && len(m.AllowedMentions.Roles) > 0 {
			return "allowed_mentions: parse roles and a roles list are mutually exclusive"
		}
	}
	for i, a := range m.Attachments {
		id, err := strconv.Atoi(strings.Trim(string(a.ID), `"`))
		if err != nil || !hasField(uploads, id) {
			return fmt.Sprintf("attachments.%d.id: %s matches no files[n] part of the request", i, a.ID)
		}
	}
	if webhook && (m.Nonce != nil || m.EnforceNonce != nil) {
		return "webhooks take no nonce"
	}
	if m.EnforceNonce != nil && *m.EnforceNonce && m.Nonce == nil {
		return "enforce_nonce without a nonce"
	}
	return ""
}

// upload is one files[n] part of a multipart request.
type upload struct {
	field, filename, contentType string
	data                         []byte
}

// multipartOps are the operations whose request body the spec also gives
// as multipart/form-data.
var multipartOps = map[string]bool{"create_message": true, "execute_webhook": true}

var filesField = regexp.MustCompile(`^files\[(\d)\]$`)

// readMultipart reads a message-with-files body as Discord does: the JSON
// message in the payload_json part, and the files in files[0]..files[9]
// parts (the names the spec's multipart schema gives), each with a file
// name and within the upload limit. Any other part is refused.
func readMultipart(contentType string, body []byte) ([]byte, []upload, int, string) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return nil, nil, http.StatusBadRequest, fmt.Sprintf("Content-Type %q has no boundary", contentType)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var payload []byte
	var uploads []upload
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, http.StatusBadRequest, "unreadable multipart body: " + err.Error()
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, nil, http.StatusBadRequest, "unreadable multipart part: " + err.Error()
		}
		name := part.FormName()
		switch {
		case name == "payload_json":
			if payload != nil {
				return nil, nil, http.StatusBadRequest, "two payload_json parts"
			}
			payload = data
		case filesField.MatchString(name):
			if part.FileName() == "" {
				return nil, nil, http.StatusBadRequest, fmt.Sprintf("part %s has no filename", name)
			}
			if len(data) > maxUpload {
				return nil, nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request entity too large (40005): %s is %d bytes, over %d", name, len(data), maxUpload)
			}
			for _, u := range uploads {
				if u.field == name {
					return nil, nil, http.StatusBadRequest, "two parts named " + name
				}
			}
			uploads = append(uploads, upload{field: name, filename: part.FileName(), contentType: part.Header.Get("Content-Type"), data: data})
		default:
			return nil, nil, http.StatusBadRequest, fmt.Sprintf("part %q is neither payload_json nor files[0]..files[9]", name)
		}
	}
	if payload == nil {
		return nil, nil, http.StatusBadRequest, "no payload_json part"
	}
	return payload, uploads, 0, ""
}

// hasField reports whether a files[id] part was uploaded.
func hasField(uploads []upload, id int) bool {
	for _, u := range uploads {
		if u.field == fmt.Sprintf("files[%d]", id) {
			return true
		}
	}
	return false
}

// uploadNamed reports whether an uploaded file is called name, by its part
// or by the filename its attachments entry gives it.
func uploadNamed(uploads []upload, attachments []struct {
	ID       json.RawMessage `json:"id"`
	Filename string          `json:"filename"`
}, name string) bool {
	for _, u := range uploads {
		if u.filename == name {
			return true
		}
	}
	for _, a := range attachments {
		if a.Filename == name {
			return true
		}
	}
	return false
}

func lookup(m map[string]any, path string) string {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

// discordLen counts like the formatter's strictest reading: UTF-16 units.
func discordLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// act performs a valid request and returns the status and answer.
func (s *Server) act(r *http.Request, op string, params map[string]string, body []byte, uploads []upload) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case "get_my_user":
		return http.StatusOK, map[string]any{"id": BotUserID, "username": "crier", "discriminator": "0", "bot": true, "global_name": nil, "avatar": nil,
			"public_flags": 0, "flags": 0, "mfa_enabled": false, "locale": "en-US", "verified": true, "email": nil}
	case "get_channel":
		id := params["channel_id"]
		typ, ok := s.channels[id]
		if !ok {
			return errorAnswer(http.StatusNotFound, 10003, "Unknown Channel")
		}
		return http.StatusOK, map[string]any{"id": id, "type": typ, "flags": 0, "guild_id": GuildID, "name": "news", "position": 0, "nsfw": false,
			"permission_overwrites": []any{}, "topic": nil, "last_message_id": nil, "parent_id": nil, "rate_limit_per_user": 0}
	case "list_messages":
		id := params["channel_id"]
		if status, refusal := s.unreadable(id); status != 0 {
			return status, refusal
		}
		limit := 50
		if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil {
			limit = v
		}
		var out []any
		for i := len(s.messages) - 1; i >= 0 && len(out) < limit; i-- {
			if m := s.messages[i]; m.ChannelID == id {
				out = append(out, s.answer(m, false))
			}
		}
		if out == nil {
			out = []any{}
		}
		return http.StatusOK, out
	case "create_message":
		id := params["channel_id"]
		if _, ok := s.channels[id]; !ok {
			return errorAnswer(http.StatusNotFound, 10003, "Unknown Channel")
		}
		if id == ForbiddenChannelID {
			return errorAnswer(http.StatusForbidden, 50013, "Missing Permissions")
		}
		return s.create(id, "", body, uploads)
	case "crosspost_message":
		id := params["channel_id"]
		typ, ok := s.channels[id]
		if !ok {
			return errorAnswer(http.StatusNotFound, 10003, "Unknown Channel")
		}
		if typ != ChannelAnnouncement {
			return errorAnswer(http.StatusBadRequest, 50024, "Cannot execute action on this channel type")
		}
		for _, m := range s.messages {
			if m.ID == params["message_id"] && m.ChannelID == id {
				if m.Crossposted > 0 {
					return errorAnswer(http.StatusBadRequest, 40033, "This message has already been crossposted.")
				}
				m.Crossposted++
				return http.StatusOK, s.answer(m, false)
			}
		}
		return errorAnswer(http.StatusNotFound, 10008, "Unknown Message")
	case "get_message":
		id := params["channel_id"]
		if status, refusal := s.unreadable(id); status != 0 {
			return status, refusal
		}
		if m := s.message(params["message_id"], func(m *Message) bool { return m.ChannelID == id }); m != nil {
			return http.StatusOK, s.answer(m, false)
		}
		return errorAnswer(http.StatusNotFound, 10008, "Unknown Message")
	case "get_webhook_message":
		hook := params["webhook_id"]
		if _, ok := s.webhooks[hook]; !ok {
			return errorAnswer(http.StatusNotFound, 10015, "Unknown Webhook")
		}
		if params["webhook_token"] != WebhookToken {
			return errorAnswer(http.StatusUnauthorized, 50027, "Invalid Webhook Token")
		}
		// A webhook reads back only the messages it posted.
		if m := s.message(params["message_id"], func(m *Message) bool { return m.WebhookID == hook }); m != nil {
			return http.StatusOK, s.answer(m, false)
		}
		return errorAnswer(http.StatusNotFound, 10008, "Unknown Message")
	case "execute_webhook":
		channel, ok := s.webhooks[params["webhook_id"]]
		if !ok {
			return errorAnswer(http.StatusNotFound, 10015, "Unknown Webhook")
		}
		if params["webhook_token"] != WebhookToken {
			return errorAnswer(http.StatusUnauthorized, 50027, "Invalid Webhook Token")
		}
		status, answer := s.create(channel, params["webhook_id"], body, uploads)
		if status == http.StatusOK && r.URL.Query().Get("wait") != "true" {
			return http.StatusNoContent, nil
		}
		return status, answer
	}
	if editOps[op] {
		return s.actEdit(op, params, body)
	}
	if connectOps[op] {
		return s.actConnect(op, params)
	}
	return errorAnswer(http.StatusMethodNotAllowed, 0, "405: Method Not Allowed (not faked)")
}

// unreadable answers as Discord does a read of a channel the bot cannot
// see, or 0 when it can. s.mu is held.
func (s *Server) unreadable(id string) (int, any) {
	if _, ok := s.channels[id]; !ok {
		return errorAnswer(http.StatusNotFound, 10003, "Unknown Channel")
	}
	if id == ForbiddenChannelID {
		return errorAnswer(http.StatusForbidden, 50001, "Missing Access")
	}
	return 0, nil
}

// message returns the message with id that ok accepts, or nil. s.mu is held.
func (s *Server) message(id string, ok func(*Message) bool) *Message {
	for _, m := range s.messages {
		if m.ID == id && ok(m) {
			return m
		}
	}
	return nil
}

func (s *Server) create(channelID, webhookID string, body []byte, uploads []upload) (int, any) {
	var req struct {
		Attachments []struct {
			ID          json.RawMessage `json:"id"`
			Filename    string          `json:"filename"`
			Description string          `json:"description"`
		} `json:"attachments"`
		Content         string           `json:"content"`
		Embeds          []map[string]any `json:"embeds"`
		AllowedMentions struct {
			Parse []string `json:"parse"`
			Roles []string `json:"roles"`
		} `json:"allowed_mentions"`
		Nonce        json.RawMessage `json:"nonce"`
		EnforceNonce bool            `json:"enforce_nonce"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return errorAnswer(http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
	}
	now := s.now()
	nonce := strings.Trim(string(req.Nonce), `"`)
	if nonce == "null" {
		nonce = ""
	}
	key := channelID + "/" + nonce
	if nonce != "" && req.EnforceNonce {
		if e, ok := s.nonces[key]; ok && now.Sub(e.at) < nonceWindow {
			return http.StatusOK, s.answer(e.msg, true)
		}
	}
	m := &Message{
		ID: s.snowflake(now), ChannelID: channelID, WebhookID: webhookID, Body: append(json.RawMessage(nil), body...),
		Content: req.Content, Embeds: req.Embeds, Nonce: nonce, Created: now,
	}
	m.Pinged = pings(req.Content, req.AllowedMentions.Parse, req.AllowedMentions.Roles)
	for _, u := range uploads {
		a := Attachment{ID: s.snowflake(now), Filename: u.filename, ContentType: u.contentType, Data: u.data}
		for _, ra := range req.Attachments {
			if strings.Trim(string(ra.ID), `"`) == strings.TrimSuffix(strings.TrimPrefix(u.field, "files["), "]") {
				if ra.Filename != "" {
					a.Filename = ra.Filename
				}
				a.Description = ra.Description
			}
		}
		m.Attachments = append(m.Attachments, a)
	}
	s.messages = append(s.messages, m)
	if nonce != "" {
		s.nonces[key] = nonceEntry{msg: m, at: now}
	}
	return http.StatusOK, s.answer(m, true)
}

var roleMention = regexp.MustCompile(`<@&(\d+)>`)

// pings is what Discord would notify for content under allowed_mentions.
func pings(content string, parse, roles []string) []string {
	var out []string
	allowed := map[string]bool{}
	for _, p := range parse {
		allowed[p] = true
	}
	if allowed["everyone"] && (strings.Contains(content, "@everyone") || strings.Contains(content, "@here")) {
		out = append(out, "everyone")
	}
	for _, m := range roleMention.FindAllStringSubmatch(content, -1) {
		ok := allowed["roles"]
		for _, r := range roles {
			ok = ok || r == m[1]
		}
		if ok {
			out = append(out, m[1])
		}
	}
	return out
}

func (s *Server) snowflake(now time.Time) string {
	s.seq++
	ms := now.UnixMilli() - discordEpoch
	return strconv.FormatInt(ms<<22|(s.seq&0xfff), 10)
}

// answer renders a stored message as Discord's message object. The nonce
// is only echoed in the create answer, as on Discord.
func (s *Server) answer(m *Message, withNonce bool) map[string]any {
	author := map[string]any{"id": BotUserID, "username": "crier", "discriminator": "0", "bot": true, "global_name": nil, "avatar": nil,
		"public_flags": 0, "flags": 0, "primary_guild": nil}
	if m.WebhookID != "" {
		author = map[string]any{"id": m.WebhookID, "username": "Crier", "discriminator": "0000", "bot": true, "global_name": nil, "avatar": nil,
			"public_flags": 0, "flags": 0, "primary_guild": nil}
	}
	embeds := []any{}
	for _, e := range m.Embeds {
		c := map[string]any{"type": "rich"}
		for k, v := range e {
			c[k] = v
		}
		if fs, ok := e["fields"].([]any); ok {
			// Discord answers every field with its inline flag.
			out := make([]any, 0, len(fs))
			for _, f := range fs {
				if f, ok := f.(map[string]any); ok {
					g := map[string]any{"inline": false}
					for k, v := range f {
						g[k] = v
					}
					out = append(out, g)
				}
			}
			c["fields"] = out
		}
		embeds = append(embeds, c)
	}
	flags := 0
	if m.Crossposted > 0 {
		flags |= 1
	}
	attachments := []any{}
	for _, a := range m.Attachments {
		cdn := "https://cdn.discordapp.com/attachments/" + m.ChannelID + "/" + a.ID + "/" + url.PathEscape(a.Filename)
		att := map[string]any{"id": a.ID, "filename": a.Filename, "size": len(a.Data), "url": cdn,
			"proxy_url": strings.Replace(cdn, "cdn.discordapp.com", "media.discordapp.net", 1), "content_type": a.ContentType}
		if a.Description != "" {
			att["description"] = a.Description
		}
		attachments = append(attachments, att)
	}
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "type": 0, "content": m.Content, "author": author,
		"embeds": embeds, "attachments": attachments, "mentions": []any{}, "mention_roles": []any{},
		"mention_everyone": contains(m.Pinged, "everyone"), "pinned": false, "tts": false,
		"timestamp": m.Created.UTC().Format("2006-01-02T15:04:05.000000-07:00"), "edited_timestamp": nil,
		"flags": flags, "components": []any{},
	}
	if m.WebhookID != "" {
		out["webhook_id"] = m.WebhookID
	}
	if len(m.Reactions) > 0 { // Discord leaves the field out when there are none
		var rs []any
		for _, r := range m.Reactions {
			rs = append(rs, map[string]any{"emoji": map[string]any{"id": nil, "name": r.Emoji}, "count": r.Normal + r.Burst,
				"count_details": map[string]any{"normal": r.Normal, "burst": r.Burst}, "burst_colors": []any{}, "me": false, "me_burst": false})
		}
		out["reactions"] = rs
	}
	if withNonce && m.Nonce != "" {
		out["nonce"] = m.Nonce
	}
	if m.Edits > 0 {
		out["edited_timestamp"] = m.Edited.UTC().Format("2006-01-02T15:04:05.000000-07:00")
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// bucketKey is the route plus its top-level resource, as Discord buckets.
func bucketKey(op string, params map[string]string) string {
	return op + ":" + params["channel_id"] + params["webhook_id"]
}

// spend takes one request from the route's bucket; limited is true (with
// the wait in seconds) when the bucket is empty.
func (s *Server) spend(op string, params map[string]string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit <= 0 {
		return 0, false
	}
	now := s.now()
	b := s.buckets[bucketKey(op, params)]
	if b == nil || !now.Before(b.reset) {
		b = &bucket{reset: now.Add(s.window)}
		s.buckets[bucketKey(op, params)] = b
	}
	if b.used >= s.limit {
		return b.reset.Sub(now).Seconds(), true
	}
	b.used++
	return 0, false
}

// rateHeaders writes Discord's X-RateLimit-* headers for the route.
func (s *Server) rateHeaders(w http.ResponseWriter, op string, params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit <= 0 {
		return
	}
	now := s.now()
	b := s.buckets[bucketKey(op, params)]
	if b == nil {
		return
	}
	after := b.reset.Sub(now).Seconds()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(s.limit-b.used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(b.reset.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(after, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", bucketHash(op))
}

func bucketHash(op string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(op); i++ {
		h = (h ^ uint32(op[i])) * 16777619
	}
	return fmt.Sprintf("%08x%08x", h, h*31)
}

// tooMany answers 429 the way Discord does: a JSON body with retry_after in
// seconds, Retry-After in whole seconds, and X-RateLimit-Scope; a global
// limit has X-RateLimit-Global and no bucket headers.
func (s *Server) tooMany(w http.ResponseWriter, op string, params map[string]string, after float64, global bool) {
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(after))))
	if global {
		h.Set("X-RateLimit-Global", "true")
		h.Set("X-RateLimit-Scope", "global")
	} else {
		s.mu.Lock()
		now := s.now()
		s.mu.Unlock()
		h.Set("X-RateLimit-Limit", strconv.Itoa(max(s.limit, 1)))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(now.Add(time.Duration(after*float64(time.Second))).UnixMilli())/1000, 'f', 3, 64))
		h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(after, 'f', 3, 64))
		h.Set("X-RateLimit-Bucket", bucketHash(op))
		h.Set("X-RateLimit-Scope", "user")
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message": "You are being rate limited.", "code": 0, "retry_after": after, "global": global,
	})
}

func errorAnswer(status, code int, message string) (int, any) {
	return status, map[string]any{"message": message, "code": code}
}

func writeError(w http.ResponseWriter, status, code int, message string) {
	if message == "" {
		message = fmt.Sprintf("%d: %s", status, http.StatusText(status))
	}
	writeJSON(w, status, map[string]any{"message": message, "code": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	js, err := json.Marshal(v)
	if err != nil {
		panic(errors.Join(errors.New("discordfake: encoding an answer"), err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(js)
}

// Close stops the server early (tests of an unreachable Discord).
func (s *Server) Close() { s.srv.Close() }
