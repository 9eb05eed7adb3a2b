package console

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/post"
)

// maxComment bounds a comment or a send-back reason (the form says so too).
const maxComment = 2000

// readComment reads the form's comment; problem says what is wrong with it.
func readComment(r *http.Request) (text, problem string) {
	text = strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("comment"), "\r\n", "\n"))
	switch {
	case text == "":
		return "", "Please write the comment first."
	case utf8.RuneCountInString(text) > maxComment:
		return "", fmt.Sprintf("The comment is longer than %d characters; please shorten it.", maxComment)
	}
	return text, ""
}

// sendBack returns a post in review (or approved) to its author as a draft,
// with an editor's comment saying what to change; the comment is kept in
// the post's history.
func (c *Console) sendBack(w http.ResponseWriter, r *http.Request, s Session) {
	_, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if m.Workflow != WorkflowReview && m.Workflow != WorkflowApproved {
		c.refuse(w, r, s, "Only a post in review or approved can be sent back; this one is "+strings.ToLower(m.Workflow.Label())+".")
		return
	}
	text, problem := readComment(r)
	if problem != "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		c.renderPost(w, r, s, m.PostID, "Not sent back: "+problem+" Say what the author should change.")
		return
	}
	if err := c.setWorkflow(r.Context(), m.PostID, WorkflowDraft, s.User.Email, actionSentBack, text, ""); err != nil {
		c.serverError(w, r, "sending the post back", err)
		return
	}
	c.notify(r.Context(), Notice{Event: NoticeSentBack, PostID: m.PostID, Actor: s.User.Email, Detail: text})
	http.Redirect(w, r, "/posts/"+m.PostID+"#history-h", http.StatusSeeOther)
}

// Actions whose detail is a person's words, shown as a quotation.
const (
	actionCommented = "commented"
	actionSentBack  = "sent back"
)

// comment adds a signed-in user's comment to a post's history.
func (c *Console) comment(w http.ResponseWriter, r *http.Request, s Session) {
	sp, err := c.opts.Store.Post(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		c.serverError(w, r, "reading the post", err)
		return
	}
	text, problem := readComment(r)
	if problem != "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		c.renderPost(w, r, s, sp.Post.ID, "Comment not added: "+problem)
		return
	}
	if err := addEvent(r.Context(), c.db(), sp.Post.ID, c.opts.Now(), s.User.Email, actionCommented, text); err != nil {
		c.serverError(w, r, "adding the comment", err)
		return
	}
	http.Redirect(w, r, "/posts/"+sp.Post.ID+"#history-h", http.StatusSeeOther)
}

// lastSentBack is the editor's send-back the author has not yet answered
// by submitting again, or nil.
func lastSentBack(events []Event, m Meta) *Event {
	if m.Workflow != WorkflowDraft {
		return nil
	}
	for i := len(events) - 1; i >= 0; i-- {
		switch events[i].Action {
		case actionSentBack:
			return &events[i]
		case "submitted for review", "approved":
			return nil
		}
	}
	return nil
}

// duplicate makes a new draft of the signed-in user's with the post's
// fields (image and alt text included) and opens it for editing.
func (c *Console) duplicate(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	old := sp.Post
	p := post.Post{ID: newPostID(), Title: old.Title, Summary: old.Summary, Body: old.Body, Link: old.Link,
		Tags: slices.Clone(old.Tags), Language: old.Language, ContentWarning: old.ContentWarning,
		Example: old.Example, Channels: maps.Clone(old.Channels), Draft: true}
	if old.Image != nil {
		img := *old.Image // the uploaded file is shared: uploads are never deleted
		p.Image = &img
	}
	p.Source = post.Source{Kind: Kind, Name: "console", Key: p.ID, Ref: "/posts/" + p.ID}
	nm := Meta{PostID: p.ID, Workflow: WorkflowDraft, AuthorID: s.User.ID, Author: s.User.Email}
	if err := c.saveConsolePost(r.Context(), p, store.PostDraft, nm, s.User.Email, "created", "as a copy of "+m.PostID, ""); err != nil {
		c.serverError(w, r, "duplicating the post", err)
		return
	}
	http.Redirect(w, r, "/posts/"+p.ID+"/edit", http.StatusSeeOther)
}

// whyNotDeletable says why s may not delete a console post, or "".
func (c *Console) whyNotDeletable(s Session, sp store.StoredPost, m Meta) string {
	if !c.mayEdit(s, m) {
		return "Only its author or an editor can delete this draft."
	}
	if sp.State != store.PostDraft || (m.Workflow != WorkflowDraft && m.Workflow != WorkflowCancelled) {
		return "Only a draft can be deleted; this one is " + strings.ToLower(m.Workflow.Label()) + "."
	}
	return ""
}

// deleteDraft asks first (GET, or a POST without confirm=yes), naming what
// is lost, then deletes the draft and its history.
func (c *Console) deleteDraft(w http.ResponseWriter, r *http.Request, s Session) {
	sp, m, ok := c.loadConsolePost(w, r)
	if !ok {
		return
	}
	if why := c.whyNotDeletable(s, sp, m); why != "" {
		c.refuse(w, r, s, why)
		return
	}
	if r.Method != http.MethodPost || r.PostFormValue("confirm") != "yes" {
		c.render(w, r, s, "deletepost", map[string]any{"Post": sp.Post, "Meta": m})
		return
	}
	err := c.deleteConsolePost(r, m.PostID)
	if errors.Is(err, store.ErrNotFound) {
		c.refuse(w, r, s, "This post is no longer a draft (it was scheduled or sent meanwhile), so it was not deleted.")
		return
	}
	if err != nil {
		c.serverError(w, r, "deleting the draft", err)
		return
	}
	http.Redirect(w, r, "/posts?deleted=1", http.StatusSeeOther)
}

// deleteConsolePost removes a draft and the console's rows about it in one
// transaction.
func (c *Console) deleteConsolePost(r *http.Request, id string) error {
	ctx := r.Context()
	tx, err := c.db().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("deleting draft %s: %w", id, err)
	}
	defer tx.Rollback()
	if err := store.DeleteDraftTx(ctx, tx, id); err != nil {
		return err
	}
	for _, q := range []string{`DELETE FROM console_events WHERE post_id = $1`, `DELETE FROM console_posts WHERE post_id = $1`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("deleting the console's record of %s: %w", id, err)
		}
	}
	return tx.Commit()
}
