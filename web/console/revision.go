package console

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/post"
)

// revision names the version of a post an editor read: a hash of every
// field that reaches a channel (title, text, summary, link, tags, the image
// and its alt text, language, content warning, each channel's own text and
// skip), so that Approve, Schedule and Publish act only on what the editor
// saw. An upload is stored under a new random name and never rewritten, so
// the image's URL and file stand for its content. Not its identity, state or
// time: scheduling or cancelling does not change what readers get.
func revision(p post.Post) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode([]any{p.Title, p.Summary, p.Body, p.Link, p.Tags, p.Image, p.Language,
		p.ContentWarning, p.Channels, p.Example})
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// msgChanged is the refusal of an action on a post that changed since the
// editor opened it.
const msgChanged = "This post changed since you opened it: review it again."

// changedError is an editor's action on a revision that is no longer the
// post's.
type changedError struct{ Read, Now string }

func (e *changedError) Error() string {
	return fmt.Sprintf("the post is now revision %s, not %s", e.Now, e.Read)
}

// errPublished refuses a change to a post published since it was read.
var errPublished = errors.New("the post was published meanwhile")

// holdPost, first in every transaction that changes a console post, reads
// the post and holds it until the transaction ends, so that a publish and
// the console's changes of one post queue (on PostgreSQL an author's save
// waits for an editor's approval instead of slipping between its check and
// its write). read, when not empty, is the revision an editor acted on: a
// *changedError when the stored post is no longer it. A post not stored yet
// is the zero StoredPost.
func (c *Console) holdPost(ctx context.Context, tx *sql.Tx, id, read string) (store.StoredPost, error) {
	sp, err := c.opts.Store.HoldPostTx(ctx, tx, id)
	if errors.Is(err, store.ErrNotFound) && read == "" {
		return sp, nil
	}
	if err != nil {
		return sp, err
	}
	if now := revision(sp.Post); read != "" && now != read {
		return sp, &changedError{Read: read, Now: now}
	}
	return sp, nil
}

// sameRevision checks the revision a go-out form carries (the page the
// editor read) against the post as stored; when they differ it refuses,
// records both in the post's history and reports false.
func (c *Console) sameRevision(w http.ResponseWriter, r *http.Request, s Session, p post.Post, verb string) bool {
	read := r.PostFormValue("revision")
	if now := revision(p); read != now {
		c.refuseChanged(w, r, s, p.ID, verb, &changedError{Read: read, Now: now})
		return false
	}
	return true
}

// refusedAsChanged refuses, as sameRevision does, when err says the post
// changed between the check and the write (or was published meanwhile);
// it reports whether it did.
func (c *Console) refusedAsChanged(w http.ResponseWriter, r *http.Request, s Session, id, verb string, err error) bool {
	var changed *changedError
	switch {
	case errors.As(err, &changed):
		c.refuseChanged(w, r, s, id, verb, changed)
	case errors.Is(err, errPublished):
		c.refuse(w, r, s, "This post has been published; it can no longer be changed.")
	default:
		return false
	}
	return true
}

// refuseChanged answers an action on an out-of-date page with the post as
// it is now, and records what was read and what is stored.
func (c *Console) refuseChanged(w http.ResponseWriter, r *http.Request, s Session, id, verb string, e *changedError) {
	if err := c.recordChanged(r.Context(), id, s.User.Email, verb, e); err != nil {
		c.serverError(w, r, "recording the refusal", err)
		return
	}
	w.WriteHeader(http.StatusConflict)
	c.renderPost(w, r, s, id, msgChanged)
}

// recordChanged adds a refused action to the post's history with the
// revision the editor read and the one stored.
func (c *Console) recordChanged(ctx context.Context, id, actor, verb string, e *changedError) error {
	return addEvent(ctx, c.db(), id, c.opts.Now(), actor, "not "+verb+": changed since opened",
		"read revision "+cmp.Or(e.Read, "none")+", stored revision "+e.Now)
}
