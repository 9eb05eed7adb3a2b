package instagram_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi/graphapitest"
)

// containerPart is a ledger's container part as the sender writes it.
func containerPart(id string, made time.Time) []channels.Part {
	return []channels.Part{{Index: 0, RemoteID: "container:" + id + "@" + strconv.FormatInt(made.Unix(), 10)}}
}

// TestRepeatedCaptionIsNotLastWeeksPost: a weekly announcement repeats
// its caption. When this week's container is gone (Meta's 100/33), last
// week's post is not taken for this week's: without an unknown outcome
// the container was never published, so a new one is made; after one,
// only a post made after the container counts.
func TestRepeatedCaptionIsNotLastWeeksPost(t *testing.T) {
	t.Parallel()
	for _, unknown := range []bool{false, true} {
		st := newSetup(t)
		week1, err := st.send(t, vigil(), channels.Delivery{PostID: "week1", Channel: "instagram", Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		st.fake.AgeMedia(7 * 24 * time.Hour)
		st.fake.ForgetContainer("17999999999999999")
		l := &ledger{parts: containerPart("17999999999999999", time.Now().Add(-time.Hour))}
		if !unknown {
			l.parts[0].RemoteID = "container:17999999999999999" // written before the time was kept
		}
		r, err := st.send(t, vigil(), channels.Delivery{PostID: "week2", Channel: "instagram", Attempt: 2, PreviousUnknown: unknown, Ledger: l})
		if err != nil || len(st.fake.Media()) != 2 || r.RemoteID == week1.RemoteID || r.RemoteID != st.fake.Media()[1].ID {
			t.Fatalf("unknown=%v: receipt %+v, %v; %d media: week 2 was not posted", unknown, r, err, len(st.fake.Media()))
		}
	}
}

// TestGoneContainerFindsItsPostAfterAnUnknownOutcome: after an unknown
// outcome, this week's post (made after the container) is found and
// recorded, not posted twice.
func TestGoneContainerFindsItsPostAfterAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	made := time.Now()
	first, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	cid := st.fake.Containers()[0].ID
	st.fake.ForgetContainer(cid)
	l := &ledger{parts: containerPart(cid, made)}
	r, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 2, PreviousUnknown: true, Ledger: l})
	if err != nil || r.RemoteID != first.RemoteID || len(st.fake.Media()) != 1 {
		t.Fatalf("receipt %+v, %v; %d media", r, err, len(st.fake.Media()))
	}
}

// TestSendAgainOnAnUnreadableContainer: a container Instagram will not
// show ends in "unknown" after an unknown outcome; the organiser's Send
// again (no unknown outcome before it) then posts.
func TestSendAgainOnAnUnreadableContainer(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	const cid = "17999999999999999"
	unreadable := graphapitest.Answer{Status: 400, Code: 100, Message: "(#100) Unsupported get request"}
	l := &ledger{parts: containerPart(cid, time.Now())}
	st.fake.FailPath(cid, unreadable)
	_, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 2, PreviousUnknown: true, Ledger: l})
	if !channels.IsUnverifiable(err) || len(st.fake.Media()) != 0 {
		t.Fatalf("want unknown: %v (%d media)", err, len(st.fake.Media()))
	}
	st.fake.FailPath(cid, unreadable)
	r, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 3, Ledger: l})
	if err != nil || len(st.fake.Media()) != 1 || r.RemoteID != st.fake.Media()[0].ID {
		t.Fatalf("send again: %+v, %v (%d media)", r, err, len(st.fake.Media()))
	}
}

// TestWithdrawAndCorrectAskTheContainer: a ledger that still names a
// container (its post's record failed, or an organiser pressed It went
// out) is not "never published": Crier asks the container, and a
// published one is to be deleted or corrected by hand; one never
// published is gone.
func TestWithdrawAndCorrectAskTheContainer(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	if _, err := st.send(t, vigil(), channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	parts := containerPart(st.fake.Containers()[0].ID, time.Now())
	ctx := context.Background()
	res, err := st.s.Withdraw(ctx, channels.Withdrawal{PostID: "vigil", Channel: "instagram", Parts: parts})
	if !permanent(err) || !strings.Contains(err.Error(), "delete it by hand") || len(res) != 0 {
		t.Fatalf("withdraw of a published container: %+v, %v", res, err)
	}
	pl, err := st.f.Format(vigil())
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.s.Correct(ctx, channels.Correction{PostID: "vigil", Channel: "instagram", Style: channels.CorrectByReply, Note: "8pm", Parts: parts}, pl)
	if !permanent(err) || !strings.Contains(err.Error(), "by hand") || st.fake.Messages() != 1 {
		t.Fatalf("correct of a published container: %v (%d messages)", err, st.fake.Messages())
	}
	st.fake.EndContainersAs(graphapitest.StatusError)
	p := vigil()
	p.ID, p.Title = "broken", "Broken"
	st.send(t, p, channels.Delivery{PostID: "broken", Channel: "instagram", Attempt: 1})
	cs := st.fake.Containers()
	res, err = st.s.Withdraw(ctx, channels.Withdrawal{PostID: "broken", Channel: "instagram", Parts: containerPart(cs[len(cs)-1].ID, time.Now())})
	if err != nil || len(res) != 1 || res[0].Outcome != channels.OutcomeGone {
		t.Fatalf("withdraw of a container never published: %+v, %v", res, err)
	}
	if len(st.fake.Media()) != 1 {
		t.Fatalf("%d media", len(st.fake.Media()))
	}
}

func permanent(err error) bool {
	k, _ := channels.Classify(err)
	return k == channels.KindPermanent
}
