package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
)

// TestListPostsByStatus: the posts list's statuses, search, id sets, pages
// and the calendar's dated posts agree, on both databases (the console
// reads posts and deliveries only through these).
func TestListPostsByStatus(t *testing.T) { pgpeer.Each(t, testListPostsByStatus) }

func testListPostsByStatus(t *testing.T, driver, target string) {
	st := open(t, driver, target)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tx, _ := st.DB().BeginTx(ctx, nil)
	add := func(id string, state PostState, body string, dels map[string]DeliveryState, outbox bool) {
		at = at.Add(time.Hour)
		p := post.Post{ID: id, Title: "Title " + id, Body: body, PublishAt: at, Source: post.Source{Kind: "console", Name: "console"}}
		if err := SavePostTx(ctx, tx, p, state, at); err != nil {
			t.Fatal(err)
		}
		for ch, ds := range dels {
			if _, err := AddDelivery(ctx, tx, id, ch, outbox, at); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = $1 WHERE post_id = $2 AND channel = $3`, string(ds), id, ch); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("failed", PostPublished, "", map[string]DeliveryState{"mastodon": DeliverySent, "discord": DeliveryFailed}, false)
	add("sending", PostPublished, "", map[string]DeliveryState{"mastodon": DeliveryPending}, false)
	add("sent", PostPublished, "", map[string]DeliveryState{"mastodon": DeliverySent}, false)
	add("local", PostPublished, "", map[string]DeliveryState{"bluesky": DeliverySent}, true)
	add("none", PostPublished, "", nil, false)
	add("sched", PostScheduled, "bring a Candle", nil, false)
	add("d1", PostDraft, "", nil, false)
	add("d2", PostDraft, "", nil, false)
	add("seen", PostSeen, "", nil, false)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	ids := func(q PostQuery) string {
		t.Helper()
		rows, _, err := st.ListPosts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, r := range rows {
			out += r.ID + "=" + string(r.Status) + " "
		}
		return out
	}
	for q, want := range map[*PostQuery]string{
		{}:                                        "d2=draft d1=draft sched=scheduled none=sent local=local sent=sent sending=sending failed=failed ",
		{Status: StatusFailed}:                    "failed=failed ",
		{Status: StatusSending}:                   "sending=sending ",
		{Status: StatusSent}:                      "none=sent sent=sent ",
		{Status: StatusLocal}:                     "local=local ",
		{Status: Status(PostDraft)}:               "d2=draft d1=draft ",
		{Status: "draft", Only: []string{}}:       "",
		{Status: "draft", Except: []string{"d2"}}: "d1=draft ",
		{Only: []string{"d1", "sched"}}:           "d1=draft sched=scheduled ",
		{Search: "CANDLE"}:                        "sched=scheduled ",
		{Search: "title d"}:                       "d2=draft d1=draft ",
		{Limit: 2, Offset: 1}:                     "d1=draft sched=scheduled ",
	} {
		if got := ids(*q); got != want {
			t.Errorf("%+v: got %q, want %q", *q, got, want)
		}
	}
	rows, more, _ := st.ListPosts(ctx, PostQuery{Limit: 2})
	if len(rows) != 2 || !more || len(rows[0].Deliveries) != 0 {
		t.Fatalf("page: %d rows, more %v", len(rows), more)
	}
	rows, _, _ = st.ListPosts(ctx, PostQuery{Status: StatusLocal})
	if fmt.Sprint(rows[0].Deliveries) != "[{bluesky sent true}]" {
		t.Fatalf("deliveries %+v", rows[0].Deliveries)
	}
	if n, err := st.CountStatus(ctx, StatusFailed); err != nil || n != 1 {
		t.Fatalf("failed count %d %v", n, err)
	}
	if s, err := st.PostStatus(ctx, "local"); err != nil || s != StatusLocal {
		t.Fatalf("status %q %v", s, err)
	}
	dated, err := st.Dated(ctx, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), 100)
	if err != nil || len(dated) != 6 || dated[5].ID != "sched" || !dated[3].Local || dated[2].Local {
		t.Fatalf("dated %+v %v", dated, err)
	}
}
