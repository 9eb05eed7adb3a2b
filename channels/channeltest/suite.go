package channeltest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// formatIsPure checks that Format gives the same payload for the same post,
// leaves the post as it was, and never touches the network: the pure
// formatter has none, the connected one finds its network off.
func (e *env) formatIsPure(t *testing.T) {
	p := e.sample(t, "format is pure")
	p.ContentWarning = "trafficking"
	p.Image = &post.Image{URL: "https://camaca.example/poster.png", Alt: "A poster: hands holding a red thread"}
	set := e.settings(t)
	pure, err := set.Formatter(campaign)
	if err != nil {
		t.Fatalf("Settings.Formatter: %v", err)
	}
	e.twice(t, "the pure formatter (preview, outbox)", pure, p)
	// crier preview shows the payload the same way each time.
	pl := format(t, pure, p)
	var a, b bytes.Buffer
	set.Preview(&a, pl)
	set.Preview(&b, pl)
	if a.Len() == 0 || a.String() != b.String() {
		t.Errorf("Settings.Preview shows %q, then %q", a.String(), b.String())
	}

	c := e.connect(t)
	back := c.net.Offline()
	e.twice(t, "the connected formatter", c.f, p)
	if used := back(); len(used) > 0 {
		t.Errorf("the connected formatter used the network: %s", strings.Join(used, ", "))
	}
}

// twice formats p twice with f and compares the payloads, file by file.
func (e *env) twice(t *testing.T, what string, f channels.Formatter, p post.Post) {
	t.Helper()
	before := mustJSON(t, p)
	a, err := f.Format(p)
	if err != nil {
		t.Fatalf("%s: Format: %v", what, err)
	}
	// Another post in between: nothing of it may stay in the formatter.
	other := p
	other.ID, other.Title, other.Body, other.Tags = p.ID+"-other", "Another post", "Other words entirely.", []string{"other"}
	if _, err := f.Format(other); err != nil {
		t.Fatalf("%s: Format: %v", what, err)
	}
	b, err := f.Format(p)
	if err != nil {
		t.Fatalf("%s: Format, the second time: %v", what, err)
	}
	if ja, jb := mustJSON(t, a), mustJSON(t, b); !bytes.Equal(ja, jb) {
		t.Errorf("%s: the same post formatted twice differs:\n%s\n---\n%s", what, ja, jb)
	}
	if len(a.Files) != len(b.Files) {
		t.Errorf("%s: %d files, then %d", what, len(a.Files), len(b.Files))
	}
	for i := range min(len(a.Files), len(b.Files)) {
		if a.Files[i].Name != b.Files[i].Name || !bytes.Equal(a.Files[i].Data, b.Files[i].Data) {
			t.Errorf("%s: file %s differs between two runs", what, a.Files[i].Name)
		}
	}
	// The console's previews and the deliveries format at once.
	want := mustJSON(t, a)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c, err := f.Format(p)
			if err == nil {
				var got []byte
				got, err = channels.MarshalIndent(c)
				if err == nil && !bytes.Equal(got, want) {
					err = errors.New("another payload")
				}
			}
			if err != nil {
				t.Errorf("%s: formatting the same post at the same time: %v", what, err)
			}
		})
	}
	wg.Wait()
	if a.PostID != p.ID || a.Channel != e.typ {
		t.Errorf("%s: payload names post %q on %q, want %q on %q", what, a.PostID, a.Channel, p.ID, e.typ)
	}
	if after := mustJSON(t, p); !bytes.Equal(before, after) {
		t.Errorf("%s: Format changed the post it was given:\n%s\n---\n%s", what, before, after)
	}
}

// bodyRoundTrips checks that a body read back from the JSON that preview
// --json and the outbox show is the body: same JSON, same type, and (when
// the body keeps nothing beside its JSON) the same value.
func (e *env) bodyRoundTrips(t *testing.T) {
	p := e.sample(t, "body round trip")
	p.Image = &post.Image{URL: "https://camaca.example/poster.png", Alt: "A poster: hands holding a red thread"}
	p.ContentWarning = "trafficking"
	c := e.connect(t)
	pl, err := c.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	js := mustJSON(t, pl.Body)
	back, err := e.h.Decode(js)
	if err != nil {
		t.Fatalf("decoding the body from its JSON: %v\n%s", err, js)
	}
	if back.ChannelType() != pl.Body.ChannelType() || reflect.TypeOf(back) != reflect.TypeOf(pl.Body) {
		t.Errorf("read back as %T (%s), want %T (%s)", back, back.ChannelType(), pl.Body, pl.Body.ChannelType())
	}
	if again := mustJSON(t, back); !bytes.Equal(js, again) {
		t.Errorf("the body's JSON does not survive a round trip:\n%s\n---\n%s", js, again)
	}
	if e.h.HiddenState != "" {
		t.Logf("only the JSON is compared: %s", e.h.HiddenState)
		return
	}
	if !reflect.DeepEqual(back, pl.Body) {
		t.Errorf("the body read back differs from the body (a field the JSON leaves out?):\n%#v\n---\n%#v", back, pl.Body)
	}
	// What the outbox shows is what is sent: the body read back sends.
	p = e.sample(t, "body read back sends")
	pl = format(t, c.f, p)
	if pl.Body, err = e.h.Decode(mustJSON(t, pl.Body)); err != nil {
		t.Fatal(err)
	}
	before := e.peer.Count(t)
	e.deliver(t, c, channels.Delivery{PostID: p.ID, Channel: e.typ, Attempt: 1, Ledger: &ledger{}}, pl)
	e.holds(t, before, pl)
}

// holds checks that the peer gained exactly pl's messages since it held
// before.
func (e *env) holds(t *testing.T, before int, pl channels.Payload) {
	t.Helper()
	if got, want := e.peer.Count(t)-before, len(e.h.Messages(pl.Body)); got != want {
		t.Errorf("the peer holds %d new messages, want %d", got, want)
	}
}

// errorClasses checks that each fault reaches the engine as the class it
// acts on, and that once the peer answers again the next attempt delivers
// the post exactly once.
func (e *env) errorClasses(t *testing.T) {
	t.Run("on the post", func(t *testing.T) { e.faults(t, false) })
	t.Run("on every request", func(t *testing.T) {
		if e.peer.Inject != nil {
			t.Logf("not checked on %s: its peer injects faults into sends only", e.typ)
			return
		}
		e.faults(t, true)
	})
}

// faults checks each fault of Faults, injected into the request that
// creates the post, or (every) into each request of a new sender from its
// first on (signing in, reading the channel): a wrong address or a revoked
// token looks like that.
func (e *env) faults(t *testing.T, every bool) {
	for _, tc := range Faults {
		f, exp := tc.Fault, tc.Expect
		if own, ok := e.h.Expect[f.Name]; ok {
			exp = own
		}
		if every && f.Timeout {
			continue // a hang on every request is the peer being down: no class to check
		}
		f.Every = every
		t.Run(f.Name, func(t *testing.T) {
			if len(exp.Kinds) == 0 {
				t.Logf("not checked on %s: %s", e.typ, exp.Why)
				return
			}
			if exp.Why != "" {
				t.Logf("%s documents %v: %s", e.typ, exp.Kinds, exp.Why)
			}
			e.fault(t, f, exp)
		})
	}
}

func (e *env) fault(t *testing.T, f Fault, exp Expectation) {
	p := e.sample(t, "fault "+f.Name)
	var every *Fault
	if f.Every {
		every = &f
	}
	c := e.connectWith(t, every)
	pl := format(t, c.f, p)
	try, ok := e.firstAttempt(t, c, f, p, pl)
	if !ok {
		return
	}
	err, d := try.err, try.d
	if err == nil {
		t.Fatalf("the peer answered %s and Send succeeded", f.Name)
	}
	if i := leaked(err.Error(), e.peer.Secrets); i > 0 {
		t.Errorf("%s: the error holds secret %d of the peer's", f.Name, i)
	}
	kind, wait := channels.Classify(err)
	if !slices.Contains(exp.Kinds, kind) {
		t.Errorf("%s: classified %s, want one of %v: %v", f.Name, kind, exp.Kinds, err)
	}
	if kind == channels.KindRateLimited && exp.Wait > 0 && (wait < exp.Wait || wait > exp.Wait+2*time.Second) {
		t.Errorf("%s: wait %s, want the %s the server asked for: %v", f.Name, wait, exp.Wait, err)
	}
	// The engine's next attempt, once the peer answers again.
	d.Attempt, d.PreviousUnknown = 2, kind == channels.KindAmbiguous
	e.resume(t, c, d, pl, try.before)
}

// attempt is a first attempt made under a fault.
type attempt struct {
	d      channels.Delivery
	err    error
	before int // the messages the peer held before it
}

// firstAttempt makes c's peer answer as f says, runs attempt 1 of p's
// delivery, and ends the fault; false when the peer cannot (logged). A
// fault on every request is in c's network from its Connect on.
func (e *env) firstAttempt(t *testing.T, c conn, f Fault, p post.Post, pl channels.Payload) (attempt, bool) {
	t.Helper()
	a := attempt{d: channels.Delivery{PostID: p.ID, Channel: e.typ, Attempt: 1, Ledger: &ledger{}}, before: e.peer.Count(t)}
	undo := c.net.Clear
	if !f.Every {
		var ok bool
		if undo, ok = e.inject(t, c, f); !ok {
			return a, false
		}
	}
	timeout := time.Minute
	if f.Timeout {
		timeout = 5 * time.Second // long enough to reach the request that hangs, on a busy machine
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	_, a.err = c.s.Send(ctx, a.d, pl)
	cancel()
	undo()
	return a, true
}

// resume runs the engine's next attempts after a fault and checks the peer
// gained the payload's messages once. A channel that declared it cannot
// resume an unknown outcome (Harness.LostAnswer) may stop for a person
// instead: a permanent error, and nothing posted twice.
func (e *env) resume(t *testing.T, c conn, d channels.Delivery, pl channels.Payload, before int) {
	t.Helper()
	_, err := e.attempts(c, d, pl)
	got, want := e.peer.Count(t)-before, len(e.h.Messages(pl.Body))
	kind, _ := channels.Classify(err)
	switch {
	case err != nil && kind == channels.KindPermanent && d.PreviousUnknown && e.h.LostAnswer != "":
		t.Logf("the retry stops for a person, as documented (%d of %d messages on the peer): %v", got, want, err)
		if got > want {
			t.Errorf("the peer holds %d new messages, more than the %d of the payload", got, want)
		}
	case err != nil:
		t.Fatalf("attempt %d after the peer answered again: %s: %v", d.Attempt, kind, err)
	case got != want:
		t.Errorf("after the retry the peer holds %d new messages, want %d", got, want)
	}
}

// inject makes c's peer answer as f says; false when it cannot (logged).
func (e *env) inject(t *testing.T, c conn, f Fault) (undo func(), ok bool) {
	t.Helper()
	if e.peer.Inject == nil {
		return c.net.Inject(f), true
	}
	undo, why := e.peer.Inject(t, f)
	if why != "" {
		t.Logf("not checked on %s: %s", e.typ, why)
		return nil, false
	}
	return undo, true
}

// lostAnswerResumes loses the answer to the request that created a
// message, the first of a post and the last of a thread: the attempt must
// say it does not know (Ambiguous) or find out itself, and the engine's
// next attempt must not post anything twice.
func (e *env) lostAnswerResumes(t *testing.T) {
	if e.h.LostAnswer != "" {
		t.Logf("%s cannot resume a lost answer by itself: %s", e.typ, e.h.LostAnswer)
	}
	t.Run("first", func(t *testing.T) { e.lostAnswer(t, e.sample(t, "lost answer"), false) })
	t.Run("last", func(t *testing.T) { e.lostAnswer(t, e.longPost(t, "lost answer of the last part"), true) })
}

func (e *env) lostAnswer(t *testing.T, p post.Post, last bool) {
	c := e.connect(t)
	pl := format(t, c.f, p)
	f := Fault{Name: "lost answer", LoseAnswer: true}
	if last {
		f.Nth = len(e.h.Messages(pl.Body))
		if f.Nth < 2 {
			t.Logf("a long post is one message on %s: the first is the last", e.typ)
			return
		}
	}
	try, ok := e.firstAttempt(t, c, f, p, pl)
	if !ok {
		return
	}
	if try.err == nil {
		t.Logf("%s went on within the attempt", e.typ)
		e.holds(t, try.before, pl)
		return
	}
	if kind, _ := channels.Classify(try.err); kind != channels.KindAmbiguous {
		t.Errorf("the answer was lost after the peer acted: classified %s, want ambiguous (the retry must look first): %v", kind, try.err)
	}
	try.d.Attempt, try.d.PreviousUnknown = 2, true
	e.resume(t, c, try.d, pl, try.before)
}

// longPost is a post too long for one message wherever a network threads.
func (e *env) longPost(t *testing.T, what string) post.Post {
	p := e.sample(t, what)
	p.Summary, p.Body = "", strings.Repeat("The vigil starts at seven at the town hall; bring a candle and a friend. ", 25)
	return p
}

// threadResumes refuses the last part of a thread (a rate limit, a server
// error): the next attempt posts only what is missing.
func (e *env) threadResumes(t *testing.T) {
	for _, f := range []Fault{
		{Name: "429", Status: http.StatusTooManyRequests, RetryAfter: time.Second},
		{Name: "500", Status: http.StatusInternalServerError},
	} {
		t.Run(f.Name, func(t *testing.T) {
			p := e.longPost(t, "thread resumes after "+f.Name)
			c := e.connect(t)
			pl := format(t, c.f, p)
			if f.Nth = len(e.h.Messages(pl.Body)); f.Nth < 2 {
				t.Logf("a long post is one message on %s: nothing to resume", e.typ)
				return
			}
			try, ok := e.firstAttempt(t, c, f, p, pl)
			if !ok {
				return
			}
			if try.err == nil {
				t.Fatalf("the last part was refused with %s and Send succeeded", f.Name)
			}
			kind, _ := channels.Classify(try.err)
			if got, want := e.peer.Count(t)-try.before, f.Nth-1; got != want {
				t.Errorf("after the last part was refused the peer holds %d new messages, want %d", got, want)
			}
			try.d.Attempt, try.d.PreviousUnknown = 2, kind == channels.KindAmbiguous
			e.resume(t, c, try.d, pl, try.before)
		})
	}
}

// sentIsNotSentAgain delivers a post, then runs the engine's next attempt
// twice, once as the same sender and once as a new one (a restarted
// daemon) with the same ledger: the peer keeps one post.
func (e *env) sentIsNotSentAgain(t *testing.T) {
	p := e.sample(t, "sent once")
	c := e.connect(t)
	pl := format(t, c.f, p)
	before := e.peer.Count(t)
	d := channels.Delivery{PostID: p.ID, Channel: e.typ, Attempt: 1, Ledger: &ledger{}}
	first := e.deliver(t, c, d, pl)
	d.Attempt, d.PreviousUnknown = 2, true
	if again := e.deliver(t, c, d, pl); again.RemoteID != first.RemoteID {
		t.Errorf("the second attempt's receipt names %q, the first's %q", again.RemoteID, first.RemoteID)
	}
	d.Attempt = 3
	e.deliver(t, e.connect(t), d, pl)
	e.holds(t, before, pl)
}

// limits checks each limit at its edge: the longest filler that fits whole
// makes one message exactly at the limit, which the peer accepts; one unit
// more is shortened, split or refused as the channel documents, and what
// is sent is accepted too.
func (e *env) limits(t *testing.T) {
	if len(e.h.Limits) == 0 && e.h.Image == nil {
		t.Logf("no limits checked on %s: %s", e.typ, e.h.NoLimits)
		return
	}
	c := e.connect(t)
	for _, l := range e.h.Limits {
		t.Run(l.Name, func(t *testing.T) { e.limit(t, c, l) })
	}
	if e.h.Image != nil {
		t.Run("image bytes", func(t *testing.T) { e.imageLimit(t, c, *e.h.Image) })
	}
}

// imageLimit sends a picture of exactly the limit, which goes out with the
// post, and one of a byte more, which is left out with a note or resized.
func (e *env) imageLimit(t *testing.T, c conn, l ImageLimit) {
	for _, size := range []int64{l.Max, l.Max + 1} {
		p := e.sample(t, fmt.Sprintf("image of %d bytes", size))
		file := filepath.Join(t.TempDir(), "poster.png")
		if err := os.WriteFile(file, pngOfSize(t, size), 0o600); err != nil {
			t.Fatal(err)
		}
		p.Image = &post.Image{File: file, Alt: "A poster: hands holding a red thread"}
		pl := format(t, c.f, p)
		before := e.peer.Count(t)
		r := e.deliver(t, c, channels.Delivery{PostID: p.ID, Channel: e.typ, Attempt: 1, Ledger: &ledger{}}, pl)
		e.holds(t, before, pl)
		switch leftOut := len(r.Notes) > 0; {
		case size == l.Max && leftOut:
			t.Errorf("a picture of exactly %d bytes was left out: %q", size, r.Notes)
		case size > l.Max && !l.Resized && !leftOut:
			t.Errorf("a picture of %d bytes, over the limit, went out without a note saying it was left out", size)
		case size > l.Max && l.Resized && leftOut:
			t.Errorf("a picture of %d bytes was left out, not resized: %q", size, r.Notes)
		}
	}
}

// pngOfSize is a small valid PNG padded to exactly size bytes with a text
// chunk, which decoders skip.
func pngOfSize(t *testing.T, size int64) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	end := b[len(b)-12:] // the IEND chunk
	const keyword = "Comment\x00"
	pad := size - int64(len(b)) - 12 - int64(len(keyword))
	if pad < 0 {
		t.Fatalf("a PNG cannot be as small as %d bytes", size)
	}
	data := append([]byte(keyword), bytes.Repeat([]byte("x"), int(pad))...)
	var chunk bytes.Buffer
	binary.Write(&chunk, binary.BigEndian, uint32(len(data)))
	chunk.WriteString("tEXt")
	chunk.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte("tEXt"))
	crc.Write(data)
	binary.Write(&chunk, binary.BigEndian, crc.Sum32())
	out := append(append(append([]byte(nil), b[:len(b)-12]...), chunk.Bytes()...), end...)
	if int64(len(out)) != size {
		t.Fatalf("padded PNG is %d bytes, want %d", len(out), size)
	}
	return out
}

func (e *env) limit(t *testing.T, c conn, l Limit) {
	base := e.sample(t, "limit "+l.Name)
	base.ContentWarning = "trafficking" // counted too, where a network shows it in the text
	messages := e.h.Messages
	if l.Messages != nil {
		messages = l.Messages
	}
	fill := func(n int) (post.Post, []string, error) {
		p := l.Fill(base, strings.Repeat(l.Unit, n))
		pl, err := c.f.Format(p)
		if err != nil {
			return p, nil, err
		}
		return p, messages(pl.Body), nil
	}
	whole := func(n int) bool {
		_, msgs, err := fill(n)
		return err == nil && len(msgs) == 1 && strings.Contains(msgs[0], strings.Repeat(l.Unit, n))
	}
	if !whole(0) {
		t.Fatalf("a post with no filler is not one message")
	}
	// The largest filler that fits whole: whole(n) holds up to it.
	lo, hi := 0, 4*l.Max+8
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if whole(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	at, msgs, _ := fill(lo)
	// Exactly the limit, or as near as units of this width come.
	if got, unit := l.Count(msgs[0]), l.Count(l.Unit); got > l.Max || got <= l.Max-unit {
		t.Errorf("the longest post that fits whole (%d units of %q) makes a message of %d, want the limit %d (less than one unit under it): the channel counts otherwise than the network", lo, l.Unit, got, l.Max)
	}
	e.sendOne(t, c, at)

	over, msgs, err := fill(lo + 1)
	switch l.Over {
	case Refuse:
		if err == nil {
			t.Errorf("one unit over the limit: Format made %d messages, want an error", len(msgs))
		}
		return
	case Shorten:
		if err != nil || len(msgs) != 1 {
			t.Fatalf("one unit over the limit: %d messages (err %v), want one, shortened", len(msgs), err)
		}
	case Split:
		if err != nil || len(msgs) < 2 {
			t.Fatalf("one unit over the limit: %d messages (err %v), want a thread", len(msgs), err)
		}
	}
	for i, m := range msgs {
		if got := l.Count(m); got > l.Max {
			t.Errorf("one unit over the limit: message %d is %d, over the limit %d", i+1, got, l.Max)
		}
	}
	over.ID += "-over"
	e.sendOne(t, c, over)
}

// sendOne delivers p and checks the peer took all its messages.
func (e *env) sendOne(t *testing.T, c conn, p post.Post) {
	t.Helper()
	pl := format(t, c.f, p)
	before := e.peer.Count(t)
	e.deliver(t, c, channels.Delivery{PostID: p.ID, Channel: e.typ, Attempt: 1, Ledger: &ledger{}}, pl)
	e.holds(t, before, pl)
}

// deliver runs attempts of d as the engine would, waiting as a channel
// asks when it continues later, until one succeeds.
func (e *env) deliver(t *testing.T, c conn, d channels.Delivery, pl channels.Payload) channels.Receipt {
	t.Helper()
	r, err := e.attempts(c, d, pl)
	if err != nil {
		kind, _ := channels.Classify(err)
		t.Fatalf("attempt %d: %s: %v", d.Attempt, kind, err)
	}
	return r
}

// attempts runs attempts of d until one ends other than "continue later"
// (rate limited), sleeping the wait as the engine's snooze would.
func (e *env) attempts(c conn, d channels.Delivery, pl channels.Payload) (channels.Receipt, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := c.s.Send(ctx, d, pl)
		cancel()
		kind, wait := channels.Classify(err)
		if err == nil || kind != channels.KindRateLimited || time.Now().Add(wait).After(deadline) {
			return r, err
		}
		time.Sleep(wait) // the engine's snooze
		d.Attempt++
	}
}

func format(t *testing.T, f channels.Formatter, p post.Post) channels.Payload {
	t.Helper()
	pl, err := f.Format(p)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	return pl
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	js, err := channels.MarshalIndent(v)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
