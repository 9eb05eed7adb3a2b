package bounces

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
)

// Addresses makes and reads the signed addresses of the bounce mailbox:
// a per-recipient return path (VERP) local+b-SEND-ID-SIG@domain, and a
// per-subscriber unsubscribe address local+u-ID-SIG@domain for the
// List-Unsubscribe mailto. The signature (an HMAC under the link secret)
// means a bounce or an unsubscribe mail can only name the subscriber whose
// newsletter carried the address: nobody can unsubscribe someone else by
// writing to the mailbox.
type Addresses struct {
	local, domain string
	key           []byte
	find          *regexp.Regexp
}

// NewAddresses returns the signed addresses of the mailbox at address,
// signed with key (the link secret).
func NewAddresses(address string, key []byte) (*Addresses, error) {
	a, err := mail.ParseAddress(address)
	if err != nil {
		return nil, fmt.Errorf("bounce address %q: %w", address, err)
	}
	at := strings.LastIndex(a.Address, "@")
	if at <= 0 || len(key) == 0 {
		return nil, errors.New("bounce address: a local part, a domain and a key are needed")
	}
	local, domain := strings.ToLower(a.Address[:at]), strings.ToLower(a.Address[at+1:])
	return &Addresses{
		local: local, domain: domain, key: append([]byte(nil), key...),
		find: regexp.MustCompile(`(?i)` + regexp.QuoteMeta(local) + `\+([bu]-[0-9a-z-]{1,60})@` + regexp.QuoteMeta(domain) + `\b`),
	}, nil
}

// Address is the mailbox's own address.
func (a *Addresses) Address() string { return a.local + "@" + a.domain }

// SendHash is the short, stable name of a send used in return paths and
// Message-IDs (the newsletter makes Message-IDs crier.HASH.ID@domain).
func SendHash(sendID string) string {
	h := sha256.Sum256([]byte(sendID))
	return hex.EncodeToString(h[:8])
}

// ReturnPath is the envelope sender of one newsletter message.
func (a *Addresses) ReturnPath(sendID string, subscriberID int64) string {
	return a.make('b', SendHash(sendID), subscriberID)
}

// Unsubscribe is the subscriber's mailto unsubscribe address.
func (a *Addresses) Unsubscribe(subscriberID int64) string {
	return a.make('u', "", subscriberID)
}

func (a *Addresses) make(kind byte, sendHash string, id int64) string {
	tok := string(kind) + "-"
	if sendHash != "" {
		tok += sendHash + "-"
	}
	tok += strconv.FormatInt(id, 36) + "-" + a.sig(kind, sendHash, id)
	return a.local + "+" + tok + "@" + a.domain
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func (a *Addresses) sig(kind byte, sendHash string, id int64) string {
	m := hmac.New(sha256.New, a.key)
	fmt.Fprintf(m, "crier-bounce-address\x00%c\x00%s\x00%d", kind, sendHash, id)
	return strings.ToLower(b32.EncodeToString(m.Sum(nil)[:10]))
}

// token is what a signed address says.
type token struct {
	kind     byte // 'b' bounce (return path) or 'u' unsubscribe
	sendHash string
	id       int64
}

// Find returns the signed addresses in s whose signature holds, each once;
// forged and altered ones are left out.
func (a *Addresses) findTokens(s string) []token {
	var out []token
	seen := map[token]bool{}
	for _, m := range a.find.FindAllStringSubmatch(s, 20) {
		t, ok := a.check(strings.ToLower(m[1]))
		if ok && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// check verifies one token (the part after local+).
func (a *Addresses) check(raw string) (token, bool) {
	parts := strings.Split(raw, "-")
	var t token
	switch {
	case len(parts) == 4 && parts[0] == "b" && len(parts[1]) == 16:
		t.kind, t.sendHash = 'b', parts[1]
		parts = parts[2:]
	case len(parts) == 3 && parts[0] == "u":
		t.kind = 'u'
		parts = parts[1:]
	default:
		return t, false
	}
	id, err := strconv.ParseInt(parts[0], 36, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 36) != parts[0] {
		return t, false
	}
	t.id = id
	if !hmac.Equal([]byte(parts[1]), []byte(a.sig(t.kind, t.sendHash, id))) {
		return t, false
	}
	return t, true
}
