package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/dendrite"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// matrixNoticeConfig is a console with the newsletter's mail server mp and
// the organisers' Matrix room #organisers:localhost on homeserver, its
// token from ORGANISERS_MATRIX_TOKEN (set to token in the bundle's
// environment).
func matrixNoticeConfig(t *testing.T, mp *mailpit.Server, homeserver, token string) (b *bundle, base string) {
	t.Helper()
	addr := testnet.FreeAddr(t)
	b = setup(t, mailpitConfig(addr, mp, "", "")+`console:
  notify:
    matrix:
      homeserver: `+homeserver+`
      room: "#organisers:localhost"
      access_token: ${ORGANISERS_MATRIX_TOKEN}
`)
	b.write("posts/.keep", "")
	b.setenv("ORGANISERS_MATRIX_TOKEN", token)
	return b, "http://" + addr
}

// TestMatrixNoticeReachesTheRoomOnce: an author's Submit queues a notice
// whose Matrix job posts to the organisers' room on a real homeserver
// (Dendrite), read back by another member. The first answer is lost on
// the way (a proxy forwards the send, then answers 502), so River tries
// the job again: the room still holds one notice, because the retry sends
// the same transaction ID. The editor's mail goes once, by its own job.
func TestMatrixNoticeReachesTheRoomOnce(t *testing.T) {
	t.Parallel()
	const editor, author = "ed.editor@camaca.example", "ann.author@camaca.example"
	hs := dendrite.Start(t, dendrite.Options{})
	poster, reader := hs.NewUser(t), hs.NewUser(t)
	roomID := hs.CreateRoom(t, reader, "organisers", true)
	var sends atomic.Int32
	target, _ := url.Parse(hs.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPut && strings.Contains(resp.Request.URL.Path, "/send/m.room.message/") && sends.Add(1) == 1 {
			resp.StatusCode, resp.Status = http.StatusBadGateway, "502 Bad Gateway"
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	mp := mailpit.Start(t, mailpit.Options{})
	matrixToken := poster.Token
	b, base := matrixNoticeConfig(t, mp, front.URL, matrixToken)
	b.addUser(editor, "editor", "editor's long passphrase")
	b.addUser(author, "author", "author's long passphrase")
	logs := b.startDaemon(base+"/healthz", http.DefaultClient)

	submitPost(t, base, author, "author's long passphrase", "Vigil on Friday")
	testnet.WaitFor(t, "the retried send of the notice", 60*time.Second, func() bool { return sends.Load() >= 2 })
	got := hs.Messages(t, reader, roomID)
	if len(got) != 1 {
		t.Fatalf("the room holds %d messages after the retry, want 1: %+v", len(got), got)
	}
	e := got[0]
	if e.Sender != poster.ID || !strings.Contains(e.Content.Body, `[CAMACA] "Vigil on Friday" was submitted for review`) ||
		!strings.Contains(e.Content.Body, base+"/posts/") || !strings.Contains(e.Content.FormattedBody, `<a href="`+base+`/posts/`) {
		t.Errorf("the room holds %+v", e)
	}
	mails := waitMail(t, mp, editor, 1)
	if all, _ := mp.Messages(context.Background()); len(mails) != 1 || len(all) != 1 {
		t.Errorf("mails %+v; want one, to the editor (the Matrix job's retry mails nobody)", all)
	}
	if strings.Contains(logs.String(), poster.Token) {
		t.Error("the access token is in the daemon's log")
	}
}

// TestMatrixNoticeWithABadTokenSaysWhatToChange: a token the homeserver
// refuses is said in plain words in the daemon's log, naming the setting
// to change, and never printed; the mail still goes.
func TestMatrixNoticeWithABadTokenSaysWhatToChange(t *testing.T) {
	t.Parallel()
	const editor, author = "ed.editor@camaca.example", "ann.author@camaca.example"
	hs := dendrite.Start(t, dendrite.Options{})
	reader := hs.NewUser(t)
	hs.CreateRoom(t, reader, "organisers", true)
	mp := mailpit.Start(t, mailpit.Options{})
	const token = "syt_revoked_token_of_the_organisers"
	matrixToken := token
	b, base := matrixNoticeConfig(t, mp, hs.URL, matrixToken)
	b.addUser(editor, "editor", "editor's long passphrase")
	b.addUser(author, "author", "author's long passphrase")
	logs := b.startDaemon(base+"/healthz", http.DefaultClient)

	submitPost(t, base, author, "author's long passphrase", "Vigil on Friday")
	const want = "the homeserver does not accept the access token (status 401 M_UNKNOWN_TOKEN: Unknown token): put a current access token of the posting account in the environment variable that console.notify.matrix.access_token names"
	testnet.WaitFor(t, "the refusal in the log", 60*time.Second, func() bool { return strings.Contains(logs.String(), want) })
	waitMail(t, mp, editor, 1)
	if strings.Contains(logs.String(), token) {
		t.Error("the access token is in the daemon's log")
	}
}
