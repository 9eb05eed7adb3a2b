package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/imagehost"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/reach"
	"github.com/crierhq/crier/subscribers"
	"github.com/crierhq/crier/web/console"
)

// TestStoreCopyToPostgres moves a SQLite installation (posts, deliveries,
// subscribers with consent history and an erasure, a newsletter send's
// ledger, what a post reached, a connected account with its secret sealed,
// a picture served for Instagram)
// to an empty PostgreSQL, checks what arrived means the same there,
// and that a second copy into the now full target is refused.
func TestStoreCopyToPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgpeer.DSN(t)
	path := filepath.Join(t.TempDir(), "crier.db")
	src, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	p := post.Post{ID: "md:vigil", Title: "Vigil", Link: "https://camaca.example.org/vigil", Source: post.Source{Kind: "markdown"}, PublishAt: now}
	tx, _ := src.DB().BeginTx(ctx, nil)
	if err := store.SavePostTx(ctx, tx, p, store.PostPublished, now); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddDelivery(ctx, tx, p.ID, "mastodon", true, now); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	subs, err := subscribers.Open(ctx, src.DB())
	if err != nil {
		t.Fatal(err)
	}
	ann, err := subs.Add(ctx, subscribers.Subscriber{Email: "ann@example.org", Name: "Ann", Status: subscribers.Confirmed,
		ConsentAt: now, ConsentSource: "form:/subscribe", ConsentIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := subs.SetStatus(ctx, ann.ID, subscribers.Unsubscribed, "one-click"); err != nil {
		t.Fatal(err)
	}
	if _, err := subs.Add(ctx, subscribers.Subscriber{Email: "erased@example.org", Status: subscribers.Confirmed}); err != nil {
		t.Fatal(err)
	}
	if err := subs.Delete(ctx, "erased@example.org"); err != nil {
		t.Fatal(err)
	}
	// A newsletter send's ledger.
	for _, prep := range channelTables {
		if err := prep(ctx, src.DB()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.DB().Exec(`INSERT INTO email_sends (id, kind, ref, subject, state, total, created_at, updated_at)
		VALUES ('post:md:vigil', 'post', 'md:vigil', 'Vigil', 'done', 1, $1, $1)`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := src.DB().Exec(`INSERT INTO email_recipients (send_id, subscriber_id, state, sent_at) VALUES ('post:md:vigil', $1, 'sent', $2)`, ann.ID, now); err != nil {
		t.Fatal(err)
	}
	// The console's users, imports, and the key its device cookies are signed with.
	users, err := console.OpenUsers(ctx, src.DB(), console.UsersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.Add(ctx, "owner@example.org", console.RoleOwner, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	var deviceKey string
	if err := src.DB().QueryRow(`SELECT value FROM console_keys WHERE name = 'device'`).Scan(&deviceKey); err != nil {
		t.Fatalf("no device-cookie key in the source: %v", err)
	}
	if err := console.Prepare(ctx, src.DB()); err != nil {
		t.Fatal(err)
	}
	// What the post reached, as the daemon keeps it.
	if err := reach.Prepare(ctx, src.DB()); err != nil {
		t.Fatal(err)
	}
	if _, err := src.DB().Exec(`INSERT INTO reach_reads (post_id, channel, read_at, step, likes) VALUES ('md:vigil', 'mastodon', $1, 0, 7)`, now); err != nil {
		t.Fatal(err)
	}
	// The bounce processor's tables, as crier run makes them when one is
	// configured.
	if err := bounces.Prepare(ctx, src.DB()); err != nil {
		t.Fatal(err)
	}
	// A connected account, as crier run and the console keep it.
	key, err := accounts.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := accounts.Open(ctx, accounts.Options{DB: src.DB(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Connect(ctx, "owner@example.org", accounts.Account{Instance: "mastodon", Type: "mastodon",
		Settings: map[string]string{"server": "https://social.example.org"}, Display: "@camaca@social.example.org"},
		map[string]string{"access_token": "s3cret-token"}); err != nil {
		t.Fatal(err)
	}
	var sealed string
	if err := src.DB().QueryRow(`SELECT sealed FROM channel_account_secrets WHERE instance = 'mastodon'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	// A picture served for Instagram, kept in the store so that any
	// replica serves it (a BLOB in SQLite, a BYTEA in PostgreSQL).
	images, err := imagehost.Open(ctx, imagehost.Options{DB: src.DB(), PublicURL: "https://crier.camaca.org.uk"})
	if err != nil {
		t.Fatal(err)
	}
	picture := writePNG(t, filepath.Join(t.TempDir(), "picture.png"))
	hosted, err := images.Publish(ctx, picture, "image/png", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()

	code, out, errOut := runCLI(t, nil, "", "store", "copy", "--from", "sqlite:"+path, "--to", "postgres:"+dsn)
	if code != 0 {
		t.Fatalf("store copy exit %d:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "every count matches") {
		t.Errorf("the copy did not report its check:\n%s", out)
	}

	dst, err := store.OpenDriver(ctx, "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	sp, err := dst.Post(ctx, p.ID)
	if err != nil || sp.State != store.PostPublished || sp.Post.Title != "Vigil" || !sp.PublishedAt.Equal(now) {
		t.Fatalf("post after the copy: %+v %v", sp, err)
	}
	if d, err := dst.Delivery(ctx, p.ID, "mastodon"); err != nil || !d.Outbox || d.State != store.DeliveryPending {
		t.Fatalf("delivery after the copy: %+v %v", d, err)
	}
	var state string
	var sentAt time.Time
	if err := dst.DB().QueryRow(`SELECT state, sent_at FROM email_recipients WHERE send_id = 'post:md:vigil' AND subscriber_id = $1`, ann.ID).Scan(&state, &sentAt); err != nil || state != "sent" || !sentAt.Equal(now) {
		t.Errorf("send ledger after the copy: %s %v %v", state, sentAt, err)
	}
	var likes int
	if err := dst.DB().QueryRow(`SELECT likes FROM reach_reads WHERE post_id = 'md:vigil'`).Scan(&likes); err != nil || likes != 7 {
		t.Errorf("reach after the copy: %d likes, %v", likes, err)
	}
	// The secret arrives still sealed, and opens with the same key.
	var copiedSealed string
	if err := dst.DB().QueryRow(`SELECT sealed FROM channel_account_secrets WHERE instance = 'mastodon'`).Scan(&copiedSealed); err != nil || copiedSealed != sealed {
		t.Errorf("the account's secret after the copy is not the sealed source value (%v)", err)
	}
	dacc, err := accounts.Open(ctx, accounts.Options{DB: dst.DB(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if sec, err := dacc.Secrets(ctx, "mastodon"); err != nil || sec["access_token"] != "s3cret-token" {
		t.Errorf("the account's secret does not open after the copy: %v", err)
	}
	if a, err := dacc.Get(ctx, "mastodon"); err != nil || a.Display != "@camaca@social.example.org" {
		t.Errorf("the account after the copy: %+v %v", a, err)
	}
	dimages, err := imagehost.Open(ctx, imagehost.Options{DB: dst.DB(), PublicURL: "https://crier.camaca.org.uk"})
	if err != nil {
		t.Fatal(err)
	}
	served := httptest.NewRecorder()
	dimages.ServeHTTP(served, httptest.NewRequest(http.MethodGet, strings.TrimPrefix(hosted, "https://crier.camaca.org.uk"), nil))
	if served.Code != http.StatusOK || !bytes.Equal(served.Body.Bytes(), picture) {
		t.Errorf("the hosted picture after the copy: %d, %d bytes (want 200 and the %d bytes published)", served.Code, served.Body.Len(), len(picture))
	}
	dusers, err := console.OpenUsers(ctx, dst.DB(), console.UsersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dusers.Authenticate(ctx, "owner@example.org", "correct horse battery"); err != nil {
		t.Errorf("the console's owner after the copy: %v", err)
	}
	var copiedKey string
	if err := dst.DB().QueryRow(`SELECT value FROM console_keys WHERE name = 'device'`).Scan(&copiedKey); err != nil || copiedKey != deviceKey {
		t.Errorf("the device-cookie key after the copy differs (%v): browsers would be strangers again", err)
	}
	dsubs, err := subscribers.Open(ctx, dst.DB())
	if err != nil {
		t.Fatal(err)
	}
	got, err := dsubs.GetByEmail(ctx, "ann@example.org")
	if err != nil || got.ID != ann.ID || got.Status != subscribers.Unsubscribed || got.ConsentIP != "192.0.2.1" || !got.ConsentAt.Equal(now) {
		t.Fatalf("subscriber after the copy: %+v %v", got, err)
	}
	if h, _ := dsubs.History(ctx, ann.ID); len(h) != 2 {
		t.Errorf("consent history after the copy: %+v", h)
	}
	// The suppression hash only means something with the copied salt.
	if sup, err := dsubs.IsSuppressed(ctx, "erased@example.org"); err != nil || !sup {
		t.Errorf("an erased address is no longer suppressed after the copy: %v %v", sup, err)
	}
	// New ids continue after the copied ones: never reused.
	bob, err := dsubs.Add(ctx, subscribers.Subscriber{Email: "bob@example.org"})
	if err != nil || bob.ID <= ann.ID+1 {
		t.Errorf("a new subscriber after the copy got id %d (copied up to %d): %v", bob.ID, ann.ID+1, err)
	}

	if code, _, errOut := runCLI(t, nil, "", "store", "copy", "--from", "sqlite:"+path, "--to", "postgres:"+dsn); code == 0 || !strings.Contains(errOut, "not empty") {
		t.Errorf("a copy into a full database must be refused (exit %d):\n%s", code, errOut)
	}
}
