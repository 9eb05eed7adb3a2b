package channeltest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
)

// reach checks a channels.ReachReader: after the peer registered people's
// interactions the counters read back are what it holds, a counter the
// network does not give is "not available" rather than 0, and a failed
// read reaches the engine classified (a rate limit with its wait).
func (e *env) reach(t *testing.T) {
	c := e.connect(t)
	if _, ok := c.s.(channels.ReachReader); !ok {
		t.Logf("not checked on %s: its sender reads no reach", e.typ)
		return
	}
	p := e.sample(t, "reach")
	l := &ledger{}
	e.deliver(t, c, channels.Delivery{PostID: p.ID, Channel: e.typ, Attempt: 1, Ledger: l}, format(t, c.f, p))
	parts, _ := l.Parts(context.Background())
	t.Run("CountersReadBack", func(t *testing.T) { e.countersReadBack(t, c, parts) })
	t.Run("FailedReadIsClassified", func(t *testing.T) { e.failedRead(t, parts) })
}

func (e *env) countersReadBack(t *testing.T, c conn, parts []channels.Part) {
	if e.peer.Reach == nil {
		t.Logf("not checked on %s: its peer registers no interactions", e.typ)
		return
	}
	want := e.peer.Reach(t, parts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := c.s.(channels.ReachReader).ReadReach(ctx, parts, channels.ReachOptions{MaxReplies: 1})
	if err != nil {
		t.Fatalf("ReadReach: %v", err)
	}
	if r.Total != want {
		t.Errorf("counters read back %+v, want %+v (a counter the network does not give must be \"not available\", not 0)", r.Total, want)
	}
	if len(r.Replies) > 1 {
		t.Errorf("%d replies, asked for at most 1", len(r.Replies))
	}
	ids := map[string]bool{}
	for _, p := range parts {
		ids[p.RemoteID] = true
	}
	for _, p := range r.Parts {
		if !ids[p.RemoteID] {
			t.Errorf("counters of part %q, which the delivery did not send", p.RemoteID)
		}
	}
}

// failedRead answers every request of a new connection with a fault.
func (e *env) failedRead(t *testing.T, parts []channels.Part) {
	if e.peer.Inject != nil {
		t.Logf("not checked on %s: its peer injects faults into sends only", e.typ)
		return
	}
	for _, tc := range []struct {
		f    Fault
		kind channels.Kind
	}{
		{Fault{Name: "429", Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second, Every: true}, channels.KindRateLimited},
		{Fault{Name: "500", Status: http.StatusInternalServerError, Every: true}, channels.KindTemporary},
		{Fault{Name: "401", Status: http.StatusUnauthorized, Every: true}, channels.KindPermanent},
	} {
		t.Run(tc.f.Name, func(t *testing.T) {
			c := e.connect(t) // a new connection: no rate-limit bucket of an earlier fault
			undo := c.net.Inject(tc.f)
			defer undo()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := c.s.(channels.ReachReader).ReadReach(ctx, parts, channels.ReachOptions{})
			kind, wait := channels.Classify(err)
			if err == nil || kind != tc.kind {
				t.Fatalf("classified %v, want %v: %v", kind, tc.kind, err)
			}
			if i := leaked(err.Error(), e.peer.Secrets); i > 0 {
				t.Errorf("the error holds secret %d of the peer's", i)
			}
			if kind == channels.KindRateLimited && (wait < tc.f.RetryAfter || wait > tc.f.RetryAfter+2*time.Second) {
				t.Errorf("wait %s, want the %s the server asked for", wait, tc.f.RetryAfter)
			}
		})
	}
}
