package console

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Account links: a password-reset or invitation link carries a random
// 256-bit token that only its recipient has; the database keeps its SHA-256,
// so a copy of the database opens no account. A token works once, until it
// expires, and a newer token for the same address and purpose replaces it.

// tokenPurpose says what an account link does.
type tokenPurpose string

const (
	purposeReset  tokenPurpose = "reset"
	purposeInvite tokenPurpose = "invite"
)

// ResetTTL is how long a password-reset link works.
const ResetTTL = time.Hour

// InviteTTL is how long an invitation link works.
const InviteTTL = 7 * 24 * time.Hour

// ErrBadLink is the one answer for a link that is unknown, used or expired.
var ErrBadLink = errors.New("this link has expired or has been used already")

var tokensSchema = []string{`
CREATE TABLE console_tokens (
	hash       TEXT PRIMARY KEY,
	purpose    TEXT NOT NULL,
	email      TEXT NOT NULL,
	role       TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMP NOT NULL,
	expires_at TIMESTAMP NOT NULL
);
CREATE INDEX console_tokens_email ON console_tokens (email, purpose);
`}

// newToken stores a fresh token for email (an addressKey) and purpose,
// replacing any earlier one, and returns it.
func (u *Users) newToken(ctx context.Context, purpose tokenPurpose, email string, role Role, ttl time.Duration) (string, error) {
	token := randomToken()
	now := u.now().UTC()
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("making a %s link: %w: %w", purpose, errDatabase, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `DELETE FROM console_tokens WHERE (email = $1 AND purpose = $2) OR expires_at <= $3`, email, string(purpose), now)
	if err == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO console_tokens (hash, purpose, email, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			hashToken(token), string(purpose), email, string(role), now, now.Add(ttl))
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return "", fmt.Errorf("making a %s link: %w: %w", purpose, errDatabase, err)
	}
	return token, nil
}

// lookToken returns the address and role of a live token, or ErrBadLink.
func lookToken(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, purpose tokenPurpose, token string, now time.Time) (string, Role, error) {
	if token == "" {
		return "", "", ErrBadLink
	}
	var email, role string
	err := q.QueryRowContext(ctx, `SELECT email, role FROM console_tokens WHERE hash = $1 AND purpose = $2 AND expires_at > $3`,
		hashToken(token), string(purpose), now.UTC()).Scan(&email, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrBadLink
	}
	if err != nil {
		return "", "", fmt.Errorf("reading a %s link: %w: %w", purpose, errDatabase, err)
	}
	return email, Role(role), nil
}

// LinkAddress returns the address a live link of purpose was sent to.
func (u *Users) LinkAddress(ctx context.Context, purpose tokenPurpose, token string) (string, error) {
	email, _, err := lookToken(ctx, u.db, purpose, token, u.now())
	return email, err
}

// NewResetLink makes a password-reset token for the user at email, or
// returns ErrNoUser.
func (u *Users) NewResetLink(ctx context.Context, email string) (string, error) {
	email = addressKey(email)
	var id int64
	err := u.db.QueryRowContext(ctx, `SELECT id FROM console_users WHERE email = $1`, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoUser
	}
	if err != nil {
		return "", fmt.Errorf("reading user: %w: %w", errDatabase, err)
	}
	return u.newToken(ctx, purposeReset, email, "", ResetTTL)
}

// ResetPassword sets a new password through a reset token: the token and
// every other account link of the address stop working, and the user's
// sessions end. A password that is refused leaves the token usable.
func (u *Users) ResetPassword(ctx context.Context, token, password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	hash := u.hashPassword(password)
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("resetting a password: %w: %w", errDatabase, err)
	}
	defer tx.Rollback()
	email, _, err := lookToken(ctx, tx, purposeReset, token, u.now())
	if err != nil {
		return "", err
	}
	// Deleting the token first makes a second use of it, even a
	// concurrent one, find no row.
	res, err := tx.ExecContext(ctx, `DELETE FROM console_tokens WHERE hash = $1`, hashToken(token))
	if n, _ := rowsAffected(res, err); n != 1 {
		return "", orBadLink(err)
	}
	res, err = tx.ExecContext(ctx, `UPDATE console_users SET password_hash = $1 WHERE email = $2`, hash, email)
	if n, _ := rowsAffected(res, err); n != 1 {
		return "", orBadLink(err)
	}
	if err := endAccess(ctx, tx, email, ""); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("resetting a password: %w: %w", errDatabase, err)
	}
	return email, nil
}

// Invite makes an invitation token for a new user at email with role.
func (u *Users) Invite(ctx context.Context, email string, role Role) (string, string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return "", "", err
	}
	if !role.Valid() {
		return "", "", fmt.Errorf("role %q is not one of owner, editor, author", role)
	}
	var n int
	if err := u.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM console_users WHERE email = $1`, email).Scan(&n); err != nil {
		return "", "", fmt.Errorf("reading user: %w: %w", errDatabase, err)
	}
	if n > 0 {
		return "", "", ErrUserExists
	}
	token, err := u.newToken(ctx, purposeInvite, email, role, InviteTTL)
	return email, token, err
}

// AcceptInvite creates the invited user with the password they chose; the
// token stops working.
func (u *Users) AcceptInvite(ctx context.Context, token, password string) (User, error) {
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	hash := u.hashPassword(password)
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("accepting an invitation: %w: %w", errDatabase, err)
	}
	defer tx.Rollback()
	now := u.now().UTC()
	email, role, err := lookToken(ctx, tx, purposeInvite, token, now)
	if err != nil {
		return User{}, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM console_tokens WHERE hash = $1`, hashToken(token))
	if n, _ := rowsAffected(res, err); n != 1 {
		return User{}, orBadLink(err)
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO console_users (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING RETURNING id`,
		email, string(role), hash, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrUserExists
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return User{}, fmt.Errorf("accepting an invitation: %w: %w", errDatabase, err)
	}
	return User{ID: id, Email: email, Role: role, CreatedAt: now}, nil
}

// ChangePassword replaces a signed-in user's password after checking the
// current one; every session of theirs but keep (a session id) ends, and
// their reset links stop working.
func (u *Users) ChangePassword(ctx context.Context, user User, current, password, keep string) error {
	if _, err := u.Authenticate(ctx, user.Email, current); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("changing a password: %w: %w", errDatabase, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE console_users SET password_hash = $1 WHERE id = $2`, u.hashPassword(password), user.ID)
	if n, _ := rowsAffected(res, err); n != 1 {
		if err == nil {
			return ErrNoUser
		}
		return fmt.Errorf("changing a password: %w: %w", errDatabase, err)
	}
	if err := endAccess(ctx, tx, addressKey(user.Email), keep); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("changing a password: %w: %w", errDatabase, err)
	}
	return nil
}

// endAccess ends the sessions of the user at email, but the one with id
// keep, and deletes the address's reset links.
func endAccess(ctx context.Context, tx *sql.Tx, email, keep string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE user_id = (SELECT id FROM console_users WHERE email = $1) AND id_hash <> $2`,
		email, hashToken(keep))
	if err == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM console_tokens WHERE email = $1 AND purpose = $2`, email, string(purposeReset))
	}
	if err != nil {
		return fmt.Errorf("ending sessions: %w: %w", errDatabase, err)
	}
	return nil
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// orBadLink is err as a database error, or ErrBadLink when there was none
// (the row was gone: a concurrent use won).
func orBadLink(err error) error {
	if err != nil {
		return fmt.Errorf("using a link: %w: %w", errDatabase, err)
	}
	return ErrBadLink
}

// Invitation is an invitation not yet accepted.
type Invitation struct {
	Email   string
	Role    Role
	Expires time.Time
}

// Invitations returns the live invitations, by address.
func (u *Users) Invitations(ctx context.Context) ([]Invitation, error) {
	rows, err := u.db.QueryContext(ctx, `SELECT email, role, expires_at FROM console_tokens WHERE purpose = $1 AND expires_at > $2 ORDER BY email`,
		string(purposeInvite), u.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("listing invitations: %w: %w", errDatabase, err)
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		var x Invitation
		var role string
		if err := rows.Scan(&x.Email, &role, &x.Expires); err != nil {
			return nil, fmt.Errorf("listing invitations: %w: %w", errDatabase, err)
		}
		x.Role = Role(role)
		out = append(out, x)
	}
	return out, rows.Err()
}

// CancelInvitation ends the invitation of email, if any.
func (u *Users) CancelInvitation(ctx context.Context, email string) error {
	_, err := u.db.ExecContext(ctx, `DELETE FROM console_tokens WHERE email = $1 AND purpose = $2`, addressKey(email), string(purposeInvite))
	if err != nil {
		return fmt.Errorf("cancelling an invitation: %w: %w", errDatabase, err)
	}
	return nil
}
