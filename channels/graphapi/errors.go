package graphapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
)

// Error is a refusal in Meta's documented shape
// ({"error":{"message","type","code","error_subcode","fbtrace_id"}}), as
// the channels read it back (errors.As) to act on a code.
type Error struct {
	Status    int    // the HTTP status
	Message   string `json:"message"`
	Type      string `json:"type"`
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode"`
	UserTitle string `json:"error_user_title"`
	UserMsg   string `json:"error_user_msg"`
	Transient bool   `json:"is_transient"`
	TraceID   string `json:"fbtrace_id"`
}

func (e *Error) Error() string {
	msg := e.Message
	if e.UserMsg != "" {
		msg = e.UserMsg
	}
	s := fmt.Sprintf("code %d", e.Code)
	if e.Subcode != 0 {
		s += fmt.Sprintf("/%d", e.Subcode)
	}
	if e.TraceID != "" {
		s += ", trace " + e.TraceID
	}
	return fmt.Sprintf("%s (%s)", msg, s)
}

// CodeOf is the Graph API error code of err, 0 when it is not a refusal.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// Graph API error codes the classification acts on
// (https://developers.facebook.com/docs/graph-api/guides/error-handling).
const (
	codeUnknown         = 1
	codeService         = 2
	codeAppRateLimit    = 4
	codePermission      = 10
	codeUserRateLimit   = 17
	codePageRateLimit   = 32
	codeInvalidParam    = 100
	codeSession         = 102
	codeDuplicate       = 506
	codeBlocked         = 368
	codeToken           = 190
	codeCustomRateLimit = 613
)

// rateLimited reports whether code is a throttling code: the app's, the
// user's, the Page's, a custom one, or a business use case's (80000s).
func rateLimited(code int) bool {
	switch code {
	case codeAppRateLimit, codeUserRateLimit, codePageRateLimit, codeCustomRateLimit:
		return true
	}
	return code >= 80000 && code <= 80014
}

// classify turns an answer that is not 2xx into the class the engine acts on.
func (cl *Client) classify(c Call, resp *http.Response, raw []byte) error {
	var env struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Error == nil {
		return cl.bare(c, resp)
	}
	e := env.Error
	e.Status = resp.StatusCode
	switch {
	case e.Code == codeToken || e.Code == codeSession:
		return channels.Refused(fmt.Errorf("%s: reconnect: %s refused the access token, %s (%w): %s", c.What, cl.network, tokenProblem(e.Subcode), e, cl.reconnect))
	case rateLimited(e.Code):
		wait := Wait(resp.Header)
		return channels.RateLimited(fmt.Errorf("%s: %s asks to slow down (%w); retrying in %s", c.What, cl.network, e, wait), wait)
	case e.Code == codePermission || (e.Code >= 200 && e.Code < 300):
		return channels.Permanent(fmt.Errorf("%s: the token lacks a permission %s needs for this (%w): %s, granting the permissions docs/meta.md lists", c.What, cl.network, e, cl.reconnect))
	case e.Code == codeBlocked || e.Code == codeDuplicate || e.Code == codeInvalidParam:
		// Policy, a duplicate, a bad parameter: only a person can fix it,
		// and Meta's message says what.
		return channels.Permanent(fmt.Errorf("%s: %s refused it: %w", c.What, cl.network, e))
	case e.Transient || e.Code == codeUnknown || e.Code == codeService || resp.StatusCode >= 500:
		return unknown(c, fmt.Errorf("%s: %s had a problem (%w)", c.What, cl.network, e))
	}
	return channels.Permanent(fmt.Errorf("%s: %s refused it: %w", c.What, cl.network, e))
}

// bare classifies an answer without Meta's error object (a proxy's page).
func (cl *Client) bare(c Call, resp *http.Response) error {
	status := fmt.Sprintf("%s answered %d %s", cl.network, resp.StatusCode, http.StatusText(resp.StatusCode))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := Wait(resp.Header)
		return channels.RateLimited(fmt.Errorf("%s: %s; retrying in %s", c.What, status, wait), wait)
	case resp.StatusCode >= 500 || resp.StatusCode/100 == 2:
		return unknown(c, fmt.Errorf("%s: %s", c.What, status))
	case resp.StatusCode == http.StatusUnauthorized:
		return channels.Refused(fmt.Errorf("%s: reconnect: %s: %s", c.What, status, cl.reconnect))
	}
	return channels.Permanent(fmt.Errorf("%s: %s", c.What, status))
}

// tokenProblem says in words what an OAuthException's subcode means.
func tokenProblem(subcode int) string {
	switch subcode {
	case 463, 467:
		return "it has expired"
	case 460:
		return "the password of the account that made it was changed"
	case 458:
		return "the app was removed from the account"
	case 459, 464:
		return "the account must log in to Facebook to fix a problem first"
	case 492:
		return "the person who made it is no longer an admin of the Page"
	}
	return "it is not valid any more"
}

// Wait is how long Meta asks to wait, read from the answer's headers: the
// business use case's estimated_time_to_regain_access (minutes), else
// Retry-After, else an hour when X-App-Usage or X-Page-Usage is at 100 %
// (Meta's window is an hour, rolling), else five minutes.
func Wait(h http.Header) time.Duration {
	if m := regainMinutes(h.Get("X-Business-Use-Case-Usage")); m > 0 {
		return time.Duration(m) * time.Minute
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if Usage(h) >= 100 {
		return time.Hour
	}
	return 5 * time.Minute
}

// Usage is the highest percentage of a limit X-App-Usage or X-Page-Usage
// reports (call_count, total_cputime, total_time), 0 when neither is set
// or readable: a sender may slow down before Meta refuses.
func Usage(h http.Header) int {
	top := 0
	for _, name := range []string{"X-App-Usage", "X-Page-Usage", "X-Ad-Account-Usage"} {
		var u map[string]float64
		if json.Unmarshal([]byte(h.Get(name)), &u) != nil {
			continue
		}
		for k, v := range u {
			if strings.HasPrefix(k, "call_count") || strings.HasPrefix(k, "total_") || k == "acc_id_util_pct" {
				top = max(top, int(v))
			}
		}
	}
	if m := regainMinutes(h.Get("X-Business-Use-Case-Usage")); m > 0 {
		top = max(top, 100)
	}
	return top
}

// regainMinutes reads the largest estimated_time_to_regain_access of an
// X-Business-Use-Case-Usage header ({"<id>":[{"type",...,
// "estimated_time_to_regain_access":N}]}).
func regainMinutes(v string) int {
	if v == "" {
		return 0
	}
	var u map[string][]struct {
		Regain int `json:"estimated_time_to_regain_access"`
	}
	if json.Unmarshal([]byte(v), &u) != nil {
		return 0
	}
	m := 0
	for _, list := range u {
		for _, e := range list {
			m = max(m, e.Regain)
		}
	}
	return m
}
