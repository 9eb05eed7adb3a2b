package bot

import (
	"context"
	"errors"
	"io/fs"

	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/post"
)

// Changed reports whether a published post's source changed since it was
// published (or last corrected), and how it reads now: its Markdown file
// read again (r), or its feed item as the last poll saw it. A file that is
// gone is not a change; one that no longer reads is an error naming it.
func Changed(ctx context.Context, st *store.Store, r markdown.Reader, sp store.StoredPost) (bool, post.Post, error) {
	if sp.State != store.PostPublished {
		return false, sp.Post, nil
	}
	if sp.Post.Source.Kind == markdown.Kind && sp.Post.Source.Ref != "" {
		now, err := r.ParseFile(sp.Post.Source.Ref)
		if errors.Is(err, fs.ErrNotExist) {
			return false, sp.Post, nil
		}
		if err != nil {
			return false, sp.Post, err
		}
		if now.ID != sp.Post.ID {
			return false, sp.Post, nil // the file now holds another post
		}
		return now.Source.Hash != sp.Post.Source.Hash, now, nil
	}
	now, ok, err := st.Changed(ctx, sp.Post.ID)
	if err != nil || !ok {
		return false, sp.Post, err
	}
	return true, now, nil
}
