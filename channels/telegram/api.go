package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
)

// answer is the Bot API's envelope: ok with a result, or an error code,
// Telegram's description and, for some errors, parameters.
type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// apiError is a refusal from the Bot API, as Telegram words it.
type apiError struct {
	Status      int
	Description string
}

func (e *apiError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("Telegram answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("Telegram answered %d: %s", e.Status, e.Description)
}

// descriptionOf is a refusal's description ("" for other errors).
func descriptionOf(err error) string {
	var e *apiError
	if errors.As(err, &e) {
		return e.Description
	}
	return ""
}

// file is an upload of a multipart request.
type file struct {
	param, name string
	data        []byte
}

// client makes Bot API calls. The token is in every URL, so no error it
// returns holds a URL.
type client struct {
	base  string // {api_url}/bot{token}/
	http  *http.Client
	chat  string // the configured chat_id, for errors
	field string // the config key of the token, for errors
}

// call makes one Bot API method call with params as JSON (or, with up,
// as multipart form fields beside the file) and decodes its result into
// out. create marks a call that posts a message, whose unknown outcome is
// Ambiguous.
func (c *client) call(ctx context.Context, method string, params map[string]any, up *file, out any, create bool, what string) error {
	if err := ctx.Err(); err != nil {
		// Nothing was sent: the attempt ran out before this call.
		return channels.Temporary(fmt.Errorf("%s: %w", what, err))
	}
	body, contentType, err := encode(params, up)
	if err != nil {
		return channels.Permanent(fmt.Errorf("%s: encoding the request: %w", what, err))
	}
	callCtx, tr := httpcall.With(ctx)
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, c.base+method, bytes.NewReader(body))
	if err != nil {
		return channels.Permanent(fmt.Errorf("%s: api_url is not usable", what))
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.http.Do(req)
	if err != nil {
		return httpcall.Failed(fmt.Errorf("%s: calling %s: %w", what, method, unwrapURL(err)), tr, create)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return httpcall.Failed(fmt.Errorf("%s: reading Telegram's answer: %w", what, unwrapURL(err)), tr, create)
	}
	var a answer
	jsonErr := json.Unmarshal(raw, &a)
	if resp.StatusCode == http.StatusOK && jsonErr == nil && a.OK {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(a.Result, out); err != nil {
			return c.unreadable(what, err, create)
		}
		return nil
	}
	return c.refused(what, resp, a, jsonErr == nil, create)
}

func (c *client) unreadable(what string, err error, create bool) error {
	e := fmt.Errorf("%s: Telegram's answer cannot be read: %v", what, err)
	if create {
		return channels.Ambiguous(e)
	}
	return channels.Temporary(e)
}

// refused classifies an answer that is not ok: a rate limit waits what
// Telegram asked, a refusal is permanent and says what to do, a server
// error may have posted the message.
func (c *client) refused(what string, resp *http.Response, a answer, isJSON bool, create bool) error {
	status := resp.StatusCode
	if isJSON && a.ErrorCode != 0 {
		status = a.ErrorCode
	}
	e := &apiError{Status: status, Description: a.Description}
	switch {
	case status == http.StatusTooManyRequests:
		wait := retryAfter(a, resp.Header)
		return channels.RateLimited(fmt.Errorf("%s: Telegram asks to slow down (%w); retrying in %s", what, e, wait), wait)
	case status == http.StatusOK:
		// Answered 200 with something other than the API's envelope (a
		// proxy's page): the message may exist.
		return c.unreadable(what, errors.New("not the Bot API's answer"), create)
	case status == http.StatusUnauthorized:
		return channels.Refused(fmt.Errorf("%s: Telegram refused the bot token (%w): check %s (@BotFather's /token shows it)", what, e, c.field))
	case status == http.StatusForbidden:
		return channels.Refused(fmt.Errorf("%s: the bot may not post in %s (%w): add the bot to the channel again as an administrator with the right to post messages (docs/telegram.md), then retry", what, c.chat, e))
	case status == http.StatusNotFound:
		return channels.Permanent(fmt.Errorf("%s: %w: the bot token or api_url is wrong (Telegram answers 404 to an unknown bot)", what, e))
	case status == http.StatusBadRequest && a.Parameters != nil && a.Parameters.MigrateToChatID != 0:
		return channels.Permanent(fmt.Errorf("%s: the group became a supergroup (%w): set chat_id to %d", what, e, a.Parameters.MigrateToChatID))
	case status >= 400 && status < 500:
		return channels.Permanent(fmt.Errorf("%s: %w", what, e))
	case create:
		// A server or gateway error may come after Telegram posted.
		return channels.Ambiguous(fmt.Errorf("%s: %w", what, e))
	default:
		return channels.Temporary(fmt.Errorf("%s: %w", what, e))
	}
}

// retryAfter is parameters.retry_after, else the Retry-After header (a
// proxy's), else a second.
func retryAfter(a answer, h http.Header) time.Duration {
	if a.Parameters != nil && a.Parameters.RetryAfter > 0 {
		return time.Duration(a.Parameters.RetryAfter) * time.Second
	}
	if n, err := strconv.Atoi(h.Get("Retry-After")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return time.Second
}

// unwrapURL drops the URL (which holds the token) from a client error.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// encode makes a JSON body, or a multipart one with the file, whose
// fields are strings and, for objects, JSON as the Bot API takes them.
func encode(params map[string]any, up *file) ([]byte, string, error) {
	if up == nil {
		b, err := json.Marshal(params)
		return b, "application/json", err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range params {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case bool:
			s = strconv.FormatBool(v)
		case int, int64:
			s = fmt.Sprint(v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, "", err
			}
			s = string(b)
		}
		if err := w.WriteField(k, s); err != nil {
			return nil, "", err
		}
	}
	fw, err := w.CreateFormFile(up.param, up.name)
	if err != nil {
		return nil, "", err
	}
	if _, err := fw.Write(up.data); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}
