package email

import (
	"context"
	"os"
	"testing"

	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/bot/store"
)

func TestZZExplain(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	dsn := pgpeer.DSN(t)
	fillSubscribers(t, dsn, 50000)
	first := prepareBenchSend(t, dsn, "w")
	st, err := store.OpenDriver(context.Background(), "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := st.DB()
	if _, err := db.Exec(`UPDATE email_recipients SET state = 'sent', sent_at = now() WHERE send_id = $1`, first); err != nil {
		t.Fatal(err)
	}
	sendID := prepareBenchSend(t, dsn, "x")
	for _, q := range []string{
		`EXPLAIN (ANALYZE, BUFFERS) SELECT r.subscriber_id, r.attempts FROM email_recipients r
		WHERE r.send_id = '` + sendID + `' AND r.subscriber_id > 10000
			AND ((r.state = 'pending' AND (r.next_try_at IS NULL OR r.next_try_at <= now())) OR (r.state = 'sending' AND r.lease_until < 5))
		ORDER BY r.subscriber_id LIMIT 256 FOR UPDATE OF r SKIP LOCKED`,
		`EXPLAIN (ANALYZE, BUFFERS) SELECT id, email, name, status, language, preference FROM subscribers WHERE id = ANY('{1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,1013,1014,1015,1016,1017,1018,1019,1020}'::bigint[])`,
		`EXPLAIN (ANALYZE, BUFFERS) UPDATE email_recipients SET state = 'sending', claimed_by = 'x', lease_until = 7
			WHERE send_id = '` + sendID + `' AND subscriber_id = ANY('{1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,1013,1014,1015,1016,1017,1018,1019,1020}'::bigint[])`,
		`SELECT indexdef FROM pg_indexes WHERE tablename = 'email_recipients'`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			t.Log(s)
		}
		rows.Close()
	}
}
