package bounces

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/subscribers"
)

// FuzzHandleMessage feeds the whole reader path (parse, match, act) hostile
// messages and holds it to the rule that matters: a subscriber changes only
// when the message carries their signed address, or Crier's Message-ID for
// them together with their own address.
func FuzzHandleMessage(f *testing.F) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(f.TempDir(), "crier.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		f.Fatal(err)
	}
	addrs, _ := NewAddresses("bounces@camaca.example", []byte("0123456789abcdef"))
	p, err := NewProcessor(ctx, Options{DB: st.DB(), Subscribers: subs, Addresses: addrs, MessageIDDomain: "camaca.example", Config: Config{SoftLimit: 1}})
	if err != nil {
		f.Fatal(err)
	}
	var list []subscribers.Subscriber
	for _, e := range []string{"kijitora@example.go.jp", "userunknown@example.jp", "ann@example.org"} {
		s, err := subs.Add(ctx, subscribers.Subscriber{Email: e, Status: subscribers.Confirmed})
		if err != nil {
			f.Fatal(err)
		}
		list = append(list, s)
	}
	files, _ := filepath.Glob("testdata/bsd/*.eml")
	for i, file := range files {
		raw, _ := os.ReadFile(file)
		s := list[i%len(list)]
		f.Add(append([]byte("Delivered-To: "+addrs.ReturnPath("post:md:vigil", s.ID)+"\r\n"), raw...))
		f.Add([]byte(strings.Replace(string(raw), "Message-Id: <", "Message-Id: <crier.0123456789abcdef."+strconv.FormatInt(s.ID, 10)+"@camaca.example>\r\nX-Old: <", 1)))
	}
	f.Add([]byte("To: " + addrs.Unsubscribe(list[2].ID) + "\r\nSubject: unsubscribe\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := p.HandleMessage(ctx, raw); err != nil {
			t.Fatalf("handling: %v", err)
		}
		text := strings.ToLower(string(raw))
		signed := map[int64]bool{}
		for _, tok := range addrs.findTokens(string(raw)) {
			signed[tok.id] = true
		}
		for _, s := range list {
			got, _ := subs.Get(ctx, s.ID)
			if got.Status == subscribers.Confirmed {
				continue
			}
			byID := strings.Contains(text, "."+strconv.FormatInt(s.ID, 10)+"@camaca.example") && strings.Contains(text, s.Email)
			if !signed[s.ID] && !byID {
				t.Fatalf("subscriber %d (%s) became %s from a message that does not name them", s.ID, s.Email, got.Status)
			}
			if err := subs.SetStatus(ctx, s.ID, subscribers.Confirmed, "fuzz reset"); err != nil {
				t.Fatal(err)
			}
		}
		st.DB().Exec(`DELETE FROM email_feedback`)
	})
}
