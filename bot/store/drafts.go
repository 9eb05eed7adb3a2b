package store

import (
	"context"
	"database/sql"
	"fmt"
)

// DeleteDraftTx removes a post that never went out, inside tx (whose
// caller removes its own rows about the post in the same transaction). The
// condition is in the DELETE itself, so a post scheduled or sent meanwhile
// is kept: ErrNotFound then, as for a post that is gone.
func DeleteDraftTx(ctx context.Context, tx *sql.Tx, id string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM posts WHERE id = $1 AND state = $2
		AND NOT EXISTS (SELECT 1 FROM deliveries WHERE post_id = $1)`, id, string(PostDraft))
	if err != nil {
		return fmt.Errorf("deleting draft %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("deleting draft %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("deleting draft %s: %w", id, ErrNotFound)
	}
	return nil
}
