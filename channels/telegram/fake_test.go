package telegram_test

// A fake Bot API server for the tests. It checks every request against
// testdata/botapi.json, a minimal machine-readable description of the
// methods Crier uses written from the official documentation (its source,
// version and date are in the file): unknown methods and parameters, wrong
// types, missing required parameters, HTML Telegram would not parse and
// text over the limits after entity parsing. It answers as the Bot API
// does, errors in its envelope ({"ok":false,"error_code":…,"description":
// …,"parameters":…}).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
)

const (
	fakeToken    = "123456789:AAE-fakeTokenForCrierTests_0123456789"
	fakeChatID   = int64(-1001234567890)
	fakeChatName = "camaca_news"
	fakeBotID    = int64(987654321)
	fakeBotName  = "camaca_crier_bot"
)

// botAPI is testdata/botapi.json.
type botAPI struct {
	Source  string                      `json:"source"`
	Version string                      `json:"bot_api_version"`
	Written string                      `json:"written"`
	Types   map[string]map[string]param `json:"types"`
	Methods map[string]struct {
		Params map[string]param `json:"params"`
	} `json:"methods"`
	HTML struct {
		Tags       []string            `json:"tags"`
		Attributes map[string][]string `json:"attributes"`
	} `json:"html"`
}

type param struct {
	Type           string   `json:"type"`
	Required       bool     `json:"required"`
	Enum           []string `json:"enum"`
	EntitiesLength *struct {
		Min, Max int
	} `json:"entities_length"`
	MaxBytes int64 `json:"max_bytes"`
}

func loadBotAPI(t *testing.T) botAPI {
	t.Helper()
	raw, err := os.ReadFile("testdata/botapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var s botAPI
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("testdata/botapi.json: %v", err)
	}
	if s.Source == "" || s.Version == "" || s.Written == "" {
		t.Fatal("testdata/botapi.json must say its source, the Bot API version and when it was written")
	}
	return s
}

// fakeMessage is one message in the fake's channel.
type fakeMessage struct {
	ID      int64
	Photo   bool
	HTML    string // as sent
	Text    string // after entity parsing
	Spoiler bool   // the photo's has_spoiler
	ReplyTo int64
	Silent  bool
	Preview json.RawMessage
	Edits   int
}

// fakeAPI is the fake Bot API with one channel.
type fakeAPI struct {
	t    *testing.T
	spec botAPI
	srv  *httptest.Server

	mu      sync.Mutex
	next    int64
	msgs    map[int64]*fakeMessage
	limited int // creates still to answer 429
	// limitSkip are the creates answered before the 429s start.
	limitSkip int
	wait      int // their retry_after
	tooOld    map[int64]bool
	member    map[string]any // getChatMember's answer for the bot
	calls     []string
	kicked    bool   // the bot was removed from the channel: sends answer 403
	lose      func() // called once a send is stored; its answer is then lost
}

// kick removes the bot from the channel.
func (f *fakeAPI) kick() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kicked = true
}

// onSend makes each send, once stored, call lose and never answer (nil:
// answer again).
func (f *fakeAPI) onSend(lose func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = lose
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, spec: loadBotAPI(t), next: 100, msgs: map[int64]*fakeMessage{}, tooOld: map[int64]bool{},
		member: map[string]any{"status": "administrator", "can_post_messages": true, "can_edit_messages": true, "can_delete_messages": true}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// Section is the channel's config section pointing at the fake.
func (f *fakeAPI) Section() string {
	return fmt.Sprintf("bot_token: %q\nchat_id: \"@%s\"\napi_url: %s\n", fakeToken, fakeChatName, f.srv.URL)
}

// Messages returns the channel's messages, oldest first.
func (f *fakeAPI) Messages() []fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMessage
	for _, m := range f.msgs {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b fakeMessage) int { return int(a.ID - b.ID) })
	return out
}

// Message returns the message of a remote id ("chat:message").
func (f *fakeAPI) Message(remoteID string) (fakeMessage, bool) {
	_, id, _ := strings.Cut(remoteID, ":")
	n, _ := strconv.ParseInt(id, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.msgs[n]
	if !ok {
		return fakeMessage{}, false
	}
	return *m, true
}

// RateLimit answers the next n sends with 429 and retry_after.
func (f *fakeAPI) RateLimit(n, retryAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limited, f.wait = n, retryAfter
}

// RateLimitAfter lets skip sends through, then answers n with 429.
func (f *fakeAPI) RateLimitAfter(skip, n, retryAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limitSkip, f.limited, f.wait = skip, n, retryAfter
}

// Calls lists the methods called, in order.
func (f *fakeAPI) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// apiFail is an error answer in the Bot API's envelope.
type apiFail struct {
	code        int
	description string
	params      map[string]any
}

func badRequest(format string, args ...any) *apiFail {
	return &apiFail{code: 400, description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	var result any
	fail := &apiFail{code: 404, description: "Not Found"}
	if ok && strings.HasPrefix(r.URL.Path, "/bot") {
		result, fail = f.serve(r, tok, method)
	}
	f.mu.Lock()
	lose := f.lose
	f.mu.Unlock()
	if lose != nil && fail == nil && strings.HasPrefix(method, "send") {
		lose()
		<-r.Context().Done() // the client gave up: no answer reaches it
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if fail != nil {
		body := map[string]any{"ok": false, "error_code": fail.code, "description": fail.description}
		if fail.params != nil {
			body["parameters"] = fail.params
		}
		w.WriteHeader(fail.code)
		_ = json.NewEncoder(w).Encode(body)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func (f *fakeAPI) serve(r *http.Request, tok, method string) (any, *apiFail) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, &apiFail{code: 405, description: "Method Not Allowed"}
	}
	if tok != fakeToken {
		return nil, &apiFail{code: 401, description: "Unauthorized"}
	}
	m, ok := f.spec.Methods[method]
	if !ok {
		f.t.Errorf("Bot API: Crier called %s, which is not in testdata/botapi.json", method)
		return nil, &apiFail{code: 404, description: "Not Found"}
	}
	req, err := readRequest(r)
	if err != nil {
		f.t.Errorf("Bot API %s: the request cannot be read: %v", method, err)
		return nil, badRequest("invalid request")
	}
	if fail := f.check(method, m.Params, req); fail != nil {
		return nil, fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	if method != "getMe" {
		if fail := f.chat(req); fail != nil {
			return nil, fail
		}
	}
	switch method {
	case "getMe":
		return map[string]any{"id": fakeBotID, "is_bot": true, "first_name": "Crier", "username": fakeBotName}, nil
	case "getChat":
		return f.chatObject(), nil
	case "getChatMember":
		if n, _ := req.int("user_id"); n != fakeBotID {
			return map[string]any{"status": "left", "user": map[string]any{"id": n}}, nil
		}
		return f.member, nil
	case "sendMessage", "sendPhoto":
		return f.send(method, req)
	case "editMessageText", "editMessageCaption":
		return f.edit(method, req)
	case "deleteMessage":
		id, _ := req.int("message_id")
		switch m, ok := f.msgs[id]; {
		case !ok:
			return nil, badRequest("message to delete not found")
		case f.tooOld[m.ID]:
			return nil, badRequest("message can't be deleted")
		}
		delete(f.msgs, id)
		return true, nil
	}
	f.t.Errorf("Bot API: the fake does not answer %s", method)
	return nil, badRequest("method not implemented by the fake")
}

// chat checks chat_id names the fake's channel.
func (f *fakeAPI) chat(req request) *apiFail {
	v, ok := req.str("chat_id")
	if !ok {
		return nil // editMessage* may name an inline message instead
	}
	if v != "@"+fakeChatName && v != strconv.FormatInt(fakeChatID, 10) {
		return badRequest("chat not found")
	}
	return nil
}

func (f *fakeAPI) chatObject() map[string]any {
	return map[string]any{"id": fakeChatID, "type": "channel", "title": "CAMACA news", "username": fakeChatName}
}

func (f *fakeAPI) send(method string, req request) (any, *apiFail) {
	if f.kicked {
		return nil, &apiFail{code: 403, description: "Forbidden: bot was kicked from the channel chat"}
	}
	if f.limited > 0 && f.limitSkip > 0 {
		f.limitSkip--
	} else if f.limited > 0 {
		f.limited--
		return nil, &apiFail{code: 429, description: fmt.Sprintf("Too Many Requests: retry after %d", f.wait), params: map[string]any{"retry_after": f.wait}}
	}
	m := &fakeMessage{Photo: method == "sendPhoto"}
	key := "text"
	if m.Photo {
		key = "caption"
		if _, isFile := req.files["photo"]; !isFile {
			f.t.Errorf("sendPhoto: Crier must upload the photo (the fake fetches no URL)")
			return nil, badRequest("wrong remote file identifier specified")
		}
		if _, _, err := image.DecodeConfig(bytes.NewReader(req.files["photo"])); err != nil {
			return nil, badRequest("IMAGE_PROCESS_FAILED")
		}
		m.Spoiler, _ = req.bool("has_spoiler")
	}
	m.HTML, _ = req.str(key)
	m.Text = f.visible(req, m.HTML)
	m.Silent, _ = req.bool("disable_notification")
	m.Preview = req.json["link_preview_options"]
	if rp, ok := req.object("reply_parameters"); ok {
		var p struct {
			MessageID int64 `json:"message_id"`
		}
		_ = json.Unmarshal(rp, &p)
		m.ReplyTo = p.MessageID
	}
	f.next++
	m.ID = f.next
	f.msgs[m.ID] = m
	return f.messageObject(m), nil
}

func (f *fakeAPI) messageObject(m *fakeMessage) map[string]any {
	out := map[string]any{"message_id": m.ID, "date": 1767225600, "chat": f.chatObject()}
	if m.Photo {
		out["caption"], out["photo"] = m.Text, []map[string]any{{"file_id": "AgAC", "file_unique_id": "AQAD", "width": 40, "height": 30}}
	} else {
		out["text"] = m.Text
	}
	return out
}

func (f *fakeAPI) edit(method string, req request) (any, *apiFail) {
	id, _ := req.int("message_id")
	m, ok := f.msgs[id]
	if !ok {
		return nil, badRequest("message to edit not found")
	}
	key := "text"
	if method == "editMessageCaption" {
		key = "caption"
		if !m.Photo {
			return nil, badRequest("there is no caption in the message to edit")
		}
	} else if m.Photo {
		return nil, badRequest("there is no text in the message to edit")
	}
	html, _ := req.str(key)
	if html == m.HTML {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.HTML, m.Text = html, f.visible(req, html)
	m.Edits++
	return f.messageObject(m), nil
}

// visible is a text after entity parsing (check has parsed it already).
func (f *fakeAPI) visible(req request, s string) string {
	if mode, _ := req.str("parse_mode"); mode == "HTML" {
		v, _ := parseHTML(s, f.spec)
		return v
	}
	return s
}

// check holds the request to the method's description: every parameter
// known and of its type, the required ones there, the parse mode's text
// parsable and within its length after entity parsing.
func (f *fakeAPI) check(method string, params map[string]param, req request) *apiFail {
	for name := range req.names() {
		p, ok := params[name]
		if !ok {
			f.t.Errorf("Bot API %s: parameter %q is not in the method's description", method, name)
			return badRequest("unknown parameter %s", name)
		}
		if err := f.typeOK(p.Type, req, name); err != "" {
			f.t.Errorf("Bot API %s: parameter %s: %s", method, name, err)
			return badRequest("field %q must be of type %s", name, p.Type)
		}
		if len(p.Enum) > 0 {
			if v, _ := req.str(name); !slices.Contains(p.Enum, v) {
				return badRequest("unsupported parse_mode")
			}
		}
		if p.MaxBytes > 0 && int64(len(req.files[name])) > p.MaxBytes {
			return badRequest("file is too big")
		}
	}
	for name, p := range params {
		if _, there := req.names()[name]; p.Required && !there {
			if name == "text" {
				return badRequest("message text is empty")
			}
			return badRequest("%s is empty", name)
		}
		if p.EntitiesLength == nil {
			continue
		}
		s, _ := req.str(name)
		text := s
		if mode, _ := req.str("parse_mode"); mode == "HTML" {
			var err error
			if text, err = parseHTML(s, f.spec); err != nil {
				return badRequest("can't parse entities: %v", err)
			}
		}
		n := len(utf16.Encode([]rune(text)))
		switch {
		case n < p.EntitiesLength.Min:
			return badRequest("message text is empty")
		case n > p.EntitiesLength.Max && name == "caption":
			return badRequest("message caption is too long")
		case n > p.EntitiesLength.Max:
			return badRequest("message is too long")
		}
	}
	return nil
}

// typeOK checks one value against a Bot API type; "" when it matches.
func (f *fakeAPI) typeOK(typ string, req request, name string) string {
	raw, isJSON := req.json[name]
	s, isForm := req.form[name]
	_, isFile := req.files[name]
	switch typ {
	case "InputFile or String":
		if isFile || isForm {
			return ""
		}
		var v string
		if isJSON && json.Unmarshal(raw, &v) == nil {
			return ""
		}
	case "String":
		var v string
		if isForm || isJSON && json.Unmarshal(raw, &v) == nil {
			return ""
		}
	case "Integer":
		var v int64
		if isForm && parses(s) || isJSON && json.Unmarshal(raw, &v) == nil {
			return ""
		}
	case "Boolean":
		var v bool
		if isForm && (s == "true" || s == "false") || isJSON && json.Unmarshal(raw, &v) == nil {
			return ""
		}
	case "Integer or String":
		var n int64
		var v string
		if isForm || isJSON && (json.Unmarshal(raw, &n) == nil || json.Unmarshal(raw, &v) == nil) {
			return ""
		}
	default:
		fields, ok := f.spec.Types[typ]
		if !ok {
			return "type " + typ + " is not described"
		}
		obj, ok := req.object(name)
		if !ok {
			return "not a JSON object"
		}
		return f.objectOK(typ, fields, obj)
	}
	return "not a " + typ
}

// objectOK checks an object's fields against its type's description.
func (f *fakeAPI) objectOK(typ string, fields map[string]param, obj json.RawMessage) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return err.Error()
	}
	sub := request{json: m}
	for k := range m {
		p, ok := fields[k]
		if !ok {
			return fmt.Sprintf("%s has no field %q", typ, k)
		}
		if err := f.typeOK(p.Type, sub, k); err != "" {
			return typ + "." + k + ": " + err
		}
	}
	for k, p := range fields {
		if _, ok := m[k]; p.Required && !ok {
			return fmt.Sprintf("%s.%s is required", typ, k)
		}
	}
	return ""
}

func parses(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil }

// request is a call's parameters, from a JSON body or a form.
type request struct {
	json  map[string]json.RawMessage
	form  map[string]string
	files map[string][]byte
}

func readRequest(r *http.Request) (request, error) {
	req := request{json: map[string]json.RawMessage{}, form: map[string]string{}, files: map[string][]byte{}}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		err := json.NewDecoder(r.Body).Decode(&req.json)
		return req, err
	case strings.HasPrefix(ct, "multipart/form-data"):
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return req, err
		}
		for k, v := range r.MultipartForm.Value {
			req.form[k] = v[0]
		}
		for k, fh := range r.MultipartForm.File {
			fl, err := fh[0].Open()
			if err != nil {
				return req, err
			}
			req.files[k], err = io.ReadAll(fl)
			fl.Close()
			if err != nil {
				return req, err
			}
		}
		return req, nil
	}
	if err := r.ParseForm(); err != nil {
		return req, err
	}
	for k, v := range r.Form {
		req.form[k] = v[0]
	}
	return req, nil
}

func (r request) names() map[string]bool {
	out := map[string]bool{}
	for k := range r.json {
		out[k] = true
	}
	for k := range r.form {
		out[k] = true
	}
	for k := range r.files {
		out[k] = true
	}
	return out
}

func (r request) str(name string) (string, bool) {
	if v, ok := r.form[name]; ok {
		return v, true
	}
	raw, ok := r.json[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true // a number, as its digits
}

func (r request) int(name string) (int64, bool) {
	s, ok := r.str(name)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, ok && err == nil
}

func (r request) bool(name string) (bool, bool) {
	s, ok := r.str(name)
	return s == "true", ok
}

func (r request) object(name string) (json.RawMessage, bool) {
	raw, ok := r.json[name]
	if !ok {
		s, isForm := r.form[name]
		if !isForm {
			return nil, false
		}
		raw = json.RawMessage(s)
	}
	var m map[string]json.RawMessage
	return raw, json.Unmarshal(raw, &m) == nil
}

// parseHTML parses text in the Bot API's HTML style as Telegram does,
// returning the text after entity parsing, or why Telegram would refuse
// it (in its words).
func parseHTML(s string, spec botAPI) (string, error) {
	var out strings.Builder
	var stack []string
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return "", fmt.Errorf("can't find end of the tag starting at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			if strings.HasPrefix(tag, "/") {
				name := strings.ToLower(strings.TrimSpace(tag[1:]))
				if len(stack) == 0 || stack[len(stack)-1] != name {
					want := ""
					if len(stack) > 0 {
						want = stack[len(stack)-1]
					}
					return "", fmt.Errorf("unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, want, name)
				}
				stack = stack[:len(stack)-1]
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				name = strings.ToLower(name)
				if !slices.Contains(spec.HTML.Tags, name) {
					return "", fmt.Errorf("unsupported start tag \"%s\" at byte offset %d", name, i)
				}
				if err := checkAttrs(name, attrs, spec); err != nil {
					return "", fmt.Errorf("%v at byte offset %d", err, i)
				}
				for _, open := range stack {
					if open == "pre" && name == "code" {
						continue
					}
					if open == "pre" || open == "code" || open == "blockquote" && name == "blockquote" {
						return "", fmt.Errorf("tag \"%s\" can't be inside \"%s\" at byte offset %d", name, open, i)
					}
				}
				stack = append(stack, name)
			}
			i += end + 1
		case '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 0 || end > 10 {
				return "", fmt.Errorf("can't find end of the entity starting at byte offset %d", i)
			}
			ent := s[i : i+end+1]
			v, ok := map[string]string{"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": "\""}[ent]
			if !ok && strings.HasPrefix(ent, "&#") {
				num := strings.TrimSuffix(ent[2:], ";")
				base := 10
				if strings.HasPrefix(num, "x") || strings.HasPrefix(num, "X") {
					num, base = num[1:], 16
				}
				n, err := strconv.ParseInt(num, base, 32)
				ok = err == nil
				v = string(rune(n))
			}
			if !ok {
				return "", fmt.Errorf("unsupported HTML entity %q at byte offset %d", ent, i)
			}
			out.WriteString(v)
			i += end + 1
		case '>':
			return "", fmt.Errorf("character '>' must be escaped (&gt;) at byte offset %d", i)
		default:
			out.WriteByte(c)
			i++
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1])
	}
	return out.String(), nil
}

// checkAttrs allows only the attributes the Bot API names for a tag, with
// the values it requires.
func checkAttrs(tag, attrs string, spec botAPI) error {
	attrs = strings.TrimSpace(attrs)
	allowed := spec.HTML.Attributes[tag]
	got := map[string]string{}
	for attrs != "" {
		name, rest, _ := strings.Cut(attrs, "=")
		name = strings.TrimSpace(name)
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, `"`) {
			return fmt.Errorf("attribute %q of tag %q has no quoted value", name, tag)
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return fmt.Errorf("attribute %q of tag %q is not closed", name, tag)
		}
		if !slices.Contains(allowed, name) {
			return fmt.Errorf("tag %q does not take attribute %q", tag, name)
		}
		got[name] = rest[1 : 1+end]
		attrs = strings.TrimSpace(rest[end+2:])
	}
	switch {
	case tag == "a" && got["href"] == "":
		return fmt.Errorf("tag \"a\" needs an href")
	case tag == "span" && got["class"] != "tg-spoiler":
		return fmt.Errorf("tag \"span\" must have class \"tg-spoiler\"")
	}
	return nil
}

// tinyPNG is a small valid PNG.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 3))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func utf16Of(s string) []uint16 { return utf16.Encode([]rune(s)) }
