package store

import (
	"context"
	"fmt"
	"time"
)

// PostProblem is a post file that cannot be read, as last reported.
type PostProblem struct {
	File    string    `json:"file"`
	Problem string    `json:"problem"`
	Since   time.Time `json:"since"`
}

// PostProblems lists the post files that could not be read at the last scan.
func (s *Store) PostProblems(ctx context.Context) ([]PostProblem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT file, problem, since FROM post_problems ORDER BY file`)
	if err != nil {
		return nil, fmt.Errorf("listing unreadable post files: %w", err)
	}
	defer rows.Close()
	var out []PostProblem
	for rows.Next() {
		var p PostProblem
		if err := rows.Scan(&p.File, &p.Problem, &p.Since); err != nil {
			return nil, fmt.Errorf("listing unreadable post files: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetPostProblem records (or updates) why a post file cannot be read.
func (s *Store) SetPostProblem(ctx context.Context, file, problem string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO post_problems (file, problem, since) VALUES ($1, $2, $3)
		ON CONFLICT (file) DO UPDATE SET problem = excluded.problem, since = excluded.since`, file, problem, now.UTC())
	if err != nil {
		return fmt.Errorf("recording the problem with %s: %w", file, err)
	}
	return nil
}

// ClearPostProblem forgets a post file's problem (fixed or removed).
func (s *Store) ClearPostProblem(ctx context.Context, file string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM post_problems WHERE file = $1`, file); err != nil {
		return fmt.Errorf("clearing the problem with %s: %w", file, err)
	}
	return nil
}
