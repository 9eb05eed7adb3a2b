package subscribers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// EventPreferences is the consent history's event for a change of what a
// supporter receives; its source says what they chose and where.
const EventPreferences = "preferences"

// Preferences are a supporter's choices: what they receive, their topics
// (none: every topic) and the language of Crier's words in their mail.
type Preferences struct {
	Preference Preference `json:"preference"`
	Lists      []string   `json:"lists"`
	Language   string     `json:"language"`
}

// String is the choice as the consent history keeps it:
// "digest / topics events, reports / language fr" (no ";": the export
// separates a history's events with it).
func (p Preferences) String() string {
	topics := "all topics"
	if len(p.Lists) > 0 {
		topics = "topics " + strings.Join(p.Lists, ", ")
	}
	lang := p.Language
	if lang == "" {
		lang = "default"
	}
	return fmt.Sprintf("%s / %s / language %s", p.Preference, topics, lang)
}

// SetPreferences stores subscriber id's choices and reports whether they
// changed. A change is recorded in the consent history with where it was
// made (via, e.g. "preferences page") and the IP address it came from.
// Choices can be made whatever the status: they are kept for when an
// unsubscribed supporter comes back.
func (s *Store) SetPreferences(ctx context.Context, id int64, p Preferences, via, ip string) (bool, error) {
	var err error
	if p.Preference == "" {
		p.Preference = EveryPost
	}
	if !p.Preference.Valid() {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w: unknown preference %q (each_post, digest or paused)", id, ErrInvalid, p.Preference)
	}
	if p.Lists, err = normalizeLists(p.Lists); err != nil {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, err)
	}
	slices.Sort(p.Lists)
	if p.Language, err = normalizeLanguage(p.Language); err != nil {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, err)
	}
	defer tx.Rollback()
	var old Preferences
	var pref, lists string
	err = tx.QueryRowContext(ctx, `SELECT preference, lists, language FROM subscribers WHERE id = $1`, id).Scan(&pref, &lists, &old.Language)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, err)
	}
	old.Preference = Preference(pref)
	if err := json.Unmarshal([]byte(lists), &old.Lists); err != nil {
		return false, fmt.Errorf("decoding lists of subscriber %d: %w", id, err)
	}
	slices.Sort(old.Lists)
	if old.Preference == p.Preference && slices.Equal(old.Lists, p.Lists) && old.Language == p.Language {
		return false, nil
	}
	enc, _ := json.Marshal(nonNil(p.Lists))
	now := s.now().UTC()
	// updated_at is left alone: Confirm reads it as when a supporter left,
	// and a choice made since must not void a newer confirmation link.
	if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET preference = $1, lists = $2, language = $3 WHERE id = $4`,
		string(p.Preference), string(enc), p.Language, id); err != nil {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, err)
	}
	if err := addEvent(ctx, tx, id, EventPreferences, now, via+": "+p.String(), ip); err != nil {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("setting preferences of subscriber %d: %w", id, err)
	}
	return true, nil
}
