package subscribers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Purpose says what a signed link is for; a token made for one purpose is
// refused for another.
type Purpose string

const (
	PurposeConfirm     Purpose = "confirm"
	PurposeUnsubscribe Purpose = "unsubscribe"
)

// ConfirmTTL is how long a confirmation link works.
const ConfirmTTL = 7 * 24 * time.Hour

// ErrBadToken is the one answer for a link that is forged, altered, expired,
// made for another purpose or for a subscriber who is gone: callers show a
// generic refusal and reveal nothing about which it was.
var ErrBadToken = errors.New("invalid or expired link")

// Signer makes and checks the signed links in newsletter mail. A token is
// "<purpose letter>.<id>.<expiry unix or 0>.<mac>", the MAC being
// HMAC-SHA256 over (purpose, id, address, expiry): the address is not in the
// link but is covered, so a link stops working when its subscriber is erased
// and someone else later gets the same id or address.
type Signer struct {
	key []byte
}

// NewSigner returns a signer with the given secret key (at least 16 bytes
// should be used; LoadOrCreateKey makes 32).
func NewSigner(key []byte) *Signer {
	return &Signer{key: append([]byte(nil), key...)}
}

const keyFile = "link-secret.key"

// LoadOrCreateKey returns the link-signing key kept in dataDir, making a
// random 32-byte one (mode 0600) the first time. It is used when
// email.link_secret is not set, so links keep working across restarts.
func LoadOrCreateKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, keyFile)
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) < 16 {
			return nil, fmt.Errorf("reading link key %s: it is %d bytes long, at least 16 are needed; delete it to make a new one (links already sent will stop working)", path, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading link key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating data folder for the link key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("making link key: %w", err)
	}
	// O_EXCL: if another process made the key meanwhile, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("creating link key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing link key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("writing link key %s: %w", path, err)
	}
	return key, nil
}

func purposeLetter(p Purpose) string {
	switch p {
	case PurposeConfirm:
		return "c"
	case PurposeUnsubscribe:
		return "u"
	}
	return ""
}

func (s *Signer) mac(p Purpose, id int64, email string, expiry int64) []byte {
	// Length-prefixed fields so no two field sets hash the same bytes. Built
	// in one buffer: a newsletter signs a link per recipient.
	var buf [160]byte
	b := buf[:0]
	field := func(f []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	var num [20]byte
	field([]byte("crier-link-v1"))
	field([]byte(p))
	field(strconv.AppendInt(num[:0], id, 10))
	field([]byte(email))
	field(strconv.AppendInt(num[:0], expiry, 10))
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	var sum [sha256.Size]byte
	return m.Sum(sum[:0])[:20]
}

// Token signs a link for sub; a zero expires means it never expires.
func (s *Signer) Token(p Purpose, sub Subscriber, expires time.Time) string {
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	b := make([]byte, 0, 64)
	b = append(b, purposeLetter(p)...)
	b = append(b, '.')
	b = strconv.AppendInt(b, sub.ID, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, '.')
	b = base64.RawURLEncoding.AppendEncode(b, s.mac(p, sub.ID, sub.Email, exp))
	return string(b)
}

// Parse reads the subscriber id out of a token made for purpose p, without
// checking the signature yet (that needs the subscriber's address: see
// Check). Anything malformed gives ErrBadToken.
func (s *Signer) Parse(token string, p Purpose) (int64, error) {
	t, err := parseToken(token, p)
	return t.id, err
}

var strictBase64 = base64.RawURLEncoding.Strict()

type token struct {
	id     int64
	expiry int64
	mac    []byte
}

func parseToken(raw string, p Purpose) (token, error) {
	var t token
	if len(raw) > 200 {
		return t, ErrBadToken
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 4 || parts[0] != purposeLetter(p) || parts[0] == "" {
		return t, ErrBadToken
	}
	var err error
	if t.id, err = strconv.ParseInt(parts[1], 10, 64); err != nil || t.id <= 0 || parts[1] != strconv.FormatInt(t.id, 10) {
		return t, ErrBadToken
	}
	if t.expiry, err = strconv.ParseInt(parts[2], 10, 64); err != nil || t.expiry < 0 || parts[2] != strconv.FormatInt(t.expiry, 10) {
		return t, ErrBadToken
	}
	// Strict: the last character's two spare bits must be zero (as Token
	// makes them), so that a token has one spelling, not four.
	if t.mac, err = strictBase64.DecodeString(parts[3]); err != nil {
		return t, ErrBadToken
	}
	return t, nil
}

// Check verifies that token was made by this signer for purpose p and the
// subscriber sub (looked up by the id Parse returned) and has not expired at
// now. Every failure is ErrBadToken.
func (s *Signer) Check(raw string, p Purpose, sub Subscriber, now time.Time) error {
	t, err := parseToken(raw, p)
	if err != nil || t.id != sub.ID {
		return ErrBadToken
	}
	if !hmac.Equal(t.mac, s.mac(p, sub.ID, sub.Email, t.expiry)) {
		return ErrBadToken
	}
	// Unsubscribe links must work for ever (RFC 8058 and the law expect
	// it); only a confirm link may expire, and a confirm link must.
	switch {
	case p == PurposeConfirm && t.expiry == 0:
		return ErrBadToken
	case t.expiry != 0 && !now.Before(time.Unix(t.expiry, 0)):
		return ErrBadToken
	}
	return nil
}

// Issued returns when a confirm token was made (its expiry less
// ConfirmTTL, to the second), for Store.Confirm; it does not check the
// signature (Check does).
func (s *Signer) Issued(raw string) (time.Time, error) {
	t, err := parseToken(raw, PurposeConfirm)
	if err != nil || t.expiry == 0 {
		return time.Time{}, ErrBadToken
	}
	return time.Unix(t.expiry, 0).Add(-ConfirmTTL), nil
}

func link(publicURL, path, token string) string {
	return strings.TrimRight(publicURL, "/") + path + "?t=" + url.QueryEscape(token)
}

// ConfirmURL is the double opt-in link for sub, valid for ConfirmTTL from now.
func (s *Signer) ConfirmURL(publicURL string, sub Subscriber, now time.Time) string {
	return link(publicURL, "/confirm", s.Token(PurposeConfirm, sub, now.Add(ConfirmTTL)))
}

// UnsubscribeURL is sub's unsubscribe link. It never expires, and it is also
// the target of the RFC 8058 one-click POST (List-Unsubscribe header).
func (s *Signer) UnsubscribeURL(publicURL string, sub Subscriber) string {
	return link(publicURL, "/unsubscribe", s.Token(PurposeUnsubscribe, sub, time.Time{}))
}

// Sign returns a MAC over data for a purpose of the caller's own (the web
// pages' CSRF tokens), domain-separated from the link tokens and from other
// purposes, as unpadded base64url.
func (s *Signer) Sign(purpose string, data ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, f := range append([]string{"crier-sign-v1", purpose}, data...) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports, in constant time, whether mac is Sign(purpose, data...).
func (s *Signer) Verify(mac, purpose string, data ...string) bool {
	return hmac.Equal([]byte(mac), []byte(s.Sign(purpose, data...)))
}

// PreferencesURL is sub's preferences page. It carries the same
// never-expiring token as the unsubscribe link: the page can do no more
// than unsubscribe does (choose less mail, or none), and one token per
// recipient keeps a send to one signature per message.
func (s *Signer) PreferencesURL(publicURL string, sub Subscriber) string {
	return link(publicURL, "/preferences", s.Token(PurposeUnsubscribe, sub, time.Time{}))
}

// Subkey derives a key of its own for another use of the link secret (the
// bounce mailbox's signed addresses), so that no signature made for one
// purpose is valid for another.
func (s *Signer) Subkey(purpose string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("crier-subkey-v1\x00" + purpose))
	return m.Sum(nil)
}

// ClickToken signs a newsletter's click link: the send and the address it
// leads to, and nothing about who it was sent to (every copy carries the
// same link). The signature stops the redirect from leading anywhere else.
func (s *Signer) ClickToken(sendID, target string) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(sendID + "\x00" + target))
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.clickMAC(payload))
}

// CheckClick returns the send and address of a click token, or ErrBadToken
// for anything forged, altered or malformed.
func (s *Signer) CheckClick(token string) (sendID, target string, err error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > maxClickToken {
		return "", "", ErrBadToken
	}
	mac, err := strictBase64.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.clickMAC(payload)) {
		return "", "", ErrBadToken
	}
	raw, err := strictBase64.DecodeString(payload)
	if err != nil {
		return "", "", ErrBadToken
	}
	sendID, target, ok = strings.Cut(string(raw), "\x00")
	if !ok {
		return "", "", ErrBadToken
	}
	return sendID, target, nil
}

// maxClickToken bounds a click token (a long address, base64'd).
const maxClickToken = 8 << 10

func (s *Signer) clickMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("crier-click-v1\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)[:16]
}
