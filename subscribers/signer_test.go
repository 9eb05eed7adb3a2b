package subscribers

import (
	"crypto/hmac"
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
	"testing"
	"time"
)

func TestSigner(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	other := NewSigner([]byte("another key, another installation"))
	ann := Subscriber{ID: 7, Email: "ann@example.org"}

	confirm := tokenOf(t, s.ConfirmURL("https://news.example.org/", ann, now))
	unsub := tokenOf(t, s.UnsubscribeURL("https://news.example.org", ann))
	if !strings.HasPrefix(s.ConfirmURL("https://news.example.org/", ann, now), "https://news.example.org/confirm?t=") {
		t.Fatal("confirm URL not under the public URL")
	}

	alter := func(tok string, i int, by string) string {
		p := strings.Split(tok, ".")
		p[i] = by
		return strings.Join(p, ".")
	}
	tests := []struct {
		name    string
		token   string
		purpose Purpose
		sub     Subscriber
		at      time.Time
		ok      bool
	}{
		{"confirm valid", confirm, PurposeConfirm, ann, now, true},
		{"confirm a second before expiry", confirm, PurposeConfirm, ann, now.Add(ConfirmTTL - time.Second), true},
		{"confirm expired", confirm, PurposeConfirm, ann, now.Add(ConfirmTTL), false},
		{"unsubscribe valid years later", unsub, PurposeUnsubscribe, ann, now.Add(10 * 365 * 24 * time.Hour), true},
		{"confirm token used to unsubscribe", confirm, PurposeUnsubscribe, ann, now, false},
		{"unsubscribe token used to confirm", unsub, PurposeConfirm, ann, now, false},
		{"relabelled purpose", alter(unsub, 0, "c"), PurposeConfirm, ann, now, false},
		{"other subscriber id", alter(confirm, 1, "8"), PurposeConfirm, Subscriber{ID: 8, Email: "ann@example.org"}, now, false},
		{"same id, other address (erased and re-added)", confirm, PurposeConfirm, Subscriber{ID: 7, Email: "bob@example.org"}, now, false},
		{"extended expiry", alter(confirm, 2, "9999999999"), PurposeConfirm, ann, now, false},
		{"expiry removed", alter(confirm, 2, "0"), PurposeConfirm, ann, now, false},
		{"leading zero id", alter(confirm, 1, "07"), PurposeConfirm, ann, now, false},
		{"mac flipped", alter(confirm, 3, "A"+strings.Split(confirm, ".")[3][1:]), PurposeConfirm, ann, now, false},
		{"mac truncated", confirm[:len(confirm)-2], PurposeConfirm, ann, now, false},
		{"forged with another key", tokenOf(t, other.ConfirmURL("https://x", ann, now)), PurposeConfirm, ann, now, false},
		{"empty", "", PurposeConfirm, ann, now, false},
		{"garbage", "....", PurposeConfirm, ann, now, false},
		{"huge", strings.Repeat("c.7.1.", 1000), PurposeConfirm, ann, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Check(tt.token, tt.purpose, tt.sub, tt.at)
			if tt.ok && err != nil {
				t.Fatalf("Check = %v, want ok", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadToken) {
				t.Fatalf("Check = %v, want ErrBadToken", err)
			}
		})
	}
	if id, err := s.Parse(confirm, PurposeConfirm); err != nil || id != 7 {
		t.Fatalf("Parse = %d, %v", id, err)
	}
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("t")
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateKey(dir)
	if err != nil || len(k1) != 32 {
		t.Fatalf("first: %d bytes, %v", len(k1), err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || string(k1) != string(k2) {
		t.Fatal("second load made a different key")
	}
	os.WriteFile(filepath.Join(dir, keyFile), []byte("short"), 0o600)
	if _, err := LoadOrCreateKey(dir); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("short key: %v", err)
	}
}

// TestTokenFormatIsStable: links already in supporters' mailboxes must keep
// working, so a token is byte for byte what the first implementation made.
func TestTokenFormatIsStable(t *testing.T) {
	key := []byte("test key, 32 bytes long, really")
	reference := func(p Purpose, sub Subscriber, exp int64) string {
		m := hmac.New(sha256.New, key)
		for _, f := range [][]byte{[]byte("crier-link-v1"), []byte(p), []byte(strconv.FormatInt(sub.ID, 10)), []byte(sub.Email), []byte(strconv.FormatInt(exp, 10))} {
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(f)))
			m.Write(n[:])
			m.Write(f)
		}
		return fmt.Sprintf("%s.%d.%d.%s", purposeLetter(p), sub.ID, exp, base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:20]))
	}
	s := NewSigner(key)
	long := strings.Repeat("x", 300) + "@example.org"
	for _, tt := range []struct {
		p   Purpose
		sub Subscriber
		exp time.Time
	}{
		{PurposeUnsubscribe, Subscriber{ID: 1, Email: "a@example.org"}, time.Time{}},
		{PurposeUnsubscribe, Subscriber{ID: 9_223_372_036_854_775_807, Email: long}, time.Time{}},
		{PurposeConfirm, Subscriber{ID: 42, Email: "zoë@exämple.org"}, time.Unix(1_800_000_000, 0)},
		{PurposeConfirm, Subscriber{ID: -3, Email: ""}, time.Unix(-5, 0)},
	} {
		var exp int64
		if !tt.exp.IsZero() {
			exp = tt.exp.Unix()
		}
		if got, want := s.Token(tt.p, tt.sub, tt.exp), reference(tt.p, tt.sub, exp); got != want {
			t.Errorf("Token(%s, %d, %q) = %s, the first implementation gave %s", tt.p, tt.sub.ID, tt.sub.Email, got, want)
		}
	}
}

// TestTokenHasOneSpelling: the last base64 character of the MAC carries two
// bits that do not belong to it; a lenient decoder accepts four spellings
// of every token. Only the one Token made is accepted.
func TestTokenHasOneSpelling(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for id := int64(1); id <= 20; id++ {
		sub := Subscriber{ID: id, Email: fmt.Sprintf("s%d@example.org", id)}
		for _, tc := range []struct {
			p   Purpose
			tok string
		}{
			{PurposeConfirm, s.Token(PurposeConfirm, sub, now.Add(time.Hour))},
			{PurposeUnsubscribe, s.Token(PurposeUnsubscribe, sub, time.Time{})},
		} {
			if err := s.Check(tc.tok, tc.p, sub, now); err != nil {
				t.Fatalf("the token as made: %v", err)
			}
			last := strings.IndexByte(alphabet, tc.tok[len(tc.tok)-1])
			accepted := 0
			for _, c := range alphabet {
				alt := tc.tok[:len(tc.tok)-1] + string(c)
				if s.Check(alt, tc.p, sub, now) == nil {
					accepted++
				}
			}
			if accepted != 1 {
				t.Fatalf("token %s (last character index %d): %d spellings accepted, want 1", tc.tok, last, accepted)
			}
		}
	}
}

func TestSubkeyIsItsOwn(t *testing.T) {
	s := NewSigner([]byte("0123456789abcdef"))
	a, b := s.Subkey("bounce-addresses"), s.Subkey("other")
	if len(a) != 32 || string(a) == string(b) || string(a) == "0123456789abcdef" || string(NewSigner([]byte("another key.....")).Subkey("bounce-addresses")) == string(a) {
		t.Fatal("subkeys are not distinct per purpose and key")
	}
}
