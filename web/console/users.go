package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/crierhq/crier/migrate"
)

// Role is what a console user may do.
type Role string

const (
	// RoleAuthor writes drafts and submits them for review.
	RoleAuthor Role = "author"
	// RoleEditor also approves, schedules, publishes, cancels and retries.
	RoleEditor Role = "editor"
	// RoleOwner also manages users.
	RoleOwner Role = "owner"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAuthor || r == RoleEditor || r == RoleOwner }

// Can reports whether r includes the rights of want.
func (r Role) Can(want Role) bool { return r.rank() >= want.rank() }

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleEditor:
		return 2
	case RoleAuthor:
		return 1
	}
	return 0
}

// User is a person who signs in to the console.
type User struct {
	ID        int64
	Email     string
	Role      Role
	CreatedAt time.Time
}

var (
	// ErrUserExists is returned when adding an address that already has a user.
	ErrUserExists = errors.New("a user with that address already exists")
	// ErrNoUser is returned for an address without a user.
	ErrNoUser = errors.New("no user with that address")
	// ErrBadCredentials is the one answer for an unknown address and a wrong password.
	ErrBadCredentials = errors.New("wrong email or password")
)

// MinPasswordLength is the shortest password accepted (NIST SP 800-63B).
const MinPasswordLength = 12

var usersSchema = []string{`
CREATE TABLE console_users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	email         TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    TIMESTAMP NOT NULL
);
CREATE TABLE console_sessions (
	id_hash    TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL,
	expires_at TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE TABLE console_posts (
	post_id    TEXT PRIMARY KEY,
	workflow   TEXT NOT NULL,
	author_id  INTEGER,
	author     TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL,
	updated_at TIMESTAMP NOT NULL
);
CREATE INDEX console_posts_workflow ON console_posts (workflow);
CREATE TABLE console_events (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	post_id TEXT NOT NULL,
	at      TIMESTAMP NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX console_events_post ON console_events (post_id, id);
`}

// Users keeps the console's users and sessions in the store's database.
type Users struct {
	db  *sql.DB
	now func() time.Time
}

// OpenUsers brings the console's tables up to date and returns the user store.
func OpenUsers(ctx context.Context, db *sql.DB, now func() time.Time) (*Users, error) {
	if now == nil {
		now = time.Now
	}
	if err := migrate.Up(ctx, db, "console", usersSchema); err != nil {
		return nil, err
	}
	return &Users{db: db, now: now}, nil
}

// NormalizeEmail checks an address and lower-cases it.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s, "@") {
		return "", fmt.Errorf("%q is not an email address", s)
	}
	return strings.ToLower(s), nil
}

// CheckPassword says what is wrong with a new password, or nil.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return fmt.Errorf("the password must be at least %d characters long", MinPasswordLength)
	}
	if len(pw) > 1024 {
		return errors.New("the password must be at most 1024 bytes long")
	}
	return nil
}

// Add creates a user.
func (u *Users) Add(ctx context.Context, email string, role Role, password string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if !role.Valid() {
		return User{}, fmt.Errorf("role %q is not one of owner, editor, author", role)
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	now := u.now().UTC()
	res, err := u.db.ExecContext(ctx, `INSERT INTO console_users (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING`,
		email, string(role), hashPassword(password), now)
	if err != nil {
		return User{}, fmt.Errorf("adding user %s: %w: %w", email, errDatabase, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return User{}, ErrUserExists
	}
	id, _ := res.LastInsertId()
	return User{ID: id, Email: email, Role: role, CreatedAt: now}, nil
}

// List returns every user, by address.
func (u *Users) List(ctx context.Context) ([]User, error) {
	rows, err := u.db.QueryContext(ctx, `SELECT id, email, role, created_at FROM console_users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var x User
		var role string
		if err := rows.Scan(&x.ID, &x.Email, &role, &x.CreatedAt); err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		x.Role = Role(role)
		out = append(out, x)
	}
	return out, rows.Err()
}

// Count returns how many users exist.
func (u *Users) Count(ctx context.Context) (int, error) {
	var n int
	if err := u.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM console_users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting users: %w", err)
	}
	return n, nil
}

// Remove deletes a user and their sessions.
func (u *Users) Remove(ctx context.Context, email string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	res, err := u.db.ExecContext(ctx, `DELETE FROM console_users WHERE email = $1`, email)
	if err != nil {
		return fmt.Errorf("removing user %s: %w", email, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoUser
	}
	return nil
}

// SetPassword replaces a user's password and signs them out everywhere.
func (u *Users) SetPassword(ctx context.Context, email, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	res, err := u.db.ExecContext(ctx, `UPDATE console_users SET password_hash = $1 WHERE email = $2`, hashPassword(password), email)
	if err != nil {
		return fmt.Errorf("setting the password of %s: %w", email, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoUser
	}
	_, err = u.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE user_id = (SELECT id FROM console_users WHERE email = $1)`, email)
	return err
}

// Authenticate checks an address and password. An unknown address costs
// the same hashing as a known one and gets the same error.
func (u *Users) Authenticate(ctx context.Context, email, password string) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var x User
	var role, hash string
	err := u.db.QueryRowContext(ctx, `SELECT id, email, role, password_hash, created_at FROM console_users WHERE email = $1`, email).
		Scan(&x.ID, &x.Email, &role, &hash, &x.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		verifyPassword(dummyHash(), password)
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("reading user: %w", err)
	}
	if !verifyPassword(hash, password) {
		return User{}, ErrBadCredentials
	}
	x.Role = Role(role)
	return x, nil
}

// argon2id parameters: RFC 9106's second recommended option (64 MiB, 3
// passes), with one lane since the machine is shared.
// They are variables only so that tests can hash faster; every hash
// records its own parameters.
const (
	defaultArgonTime   = 3
	defaultArgonMemory = 64 * 1024 // KiB
)

var (
	argonTime    uint32 = defaultArgonTime
	argonMemory  uint32 = defaultArgonMemory
	argonThreads uint8  = 1
)

const argonKeyLen = 32

// dummyHash is verified against for unknown addresses, so that they cost
// as much as known ones.
var dummyHash = sync.OnceValue(func() string { return hashPassword("not a password anyone has") })

func hashPassword(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func verifyPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Session is a signed-in browser.
type Session struct {
	User User
	CSRF string
	// Expires is when the session ends unless used again.
	Expires time.Time
	idHash  string
}

// SessionTTL is how long a session lives; each use renews it.
const SessionTTL = 12 * time.Hour

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// NewSession starts a session for a user and returns its id (the cookie
// value). Only the id's hash is stored.
func (u *Users) NewSession(ctx context.Context, user User) (string, Session, error) {
	id := randomToken()
	s := Session{User: user, CSRF: randomToken(), Expires: u.now().Add(SessionTTL).UTC(), idHash: hashToken(id)}
	_, err := u.db.ExecContext(ctx, `INSERT INTO console_sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		s.idHash, user.ID, s.CSRF, u.now().UTC(), s.Expires)
	if err != nil {
		return "", Session{}, fmt.Errorf("starting a session: %w", err)
	}
	return id, s, nil
}

// Session returns the live session with that id, renewing it, or ErrNoUser.
func (u *Users) Session(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, ErrNoUser
	}
	var s Session
	var role string
	s.idHash = hashToken(id)
	now := u.now().UTC()
	err := u.db.QueryRowContext(ctx, `SELECT u.id, u.email, u.role, u.created_at, s.csrf, s.expires_at FROM console_sessions s
		JOIN console_users u ON u.id = s.user_id WHERE s.id_hash = $1`, s.idHash).
		Scan(&s.User.ID, &s.User.Email, &role, &s.User.CreatedAt, &s.CSRF, &s.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoUser
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading session: %w", err)
	}
	if !now.Before(s.Expires) {
		u.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, s.idHash)
		return Session{}, ErrNoUser
	}
	s.User.Role = Role(role)
	// Renew at most once a minute, so reading pages does not write every time.
	if s.Expires.Sub(now) < SessionTTL-time.Minute {
		s.Expires = now.Add(SessionTTL)
		u.db.ExecContext(ctx, `UPDATE console_sessions SET expires_at = $1 WHERE id_hash = $2`, s.Expires, s.idHash)
	}
	return s, nil
}

// EndSession signs one session out.
func (u *Users) EndSession(ctx context.Context, id string) error {
	_, err := u.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, hashToken(id))
	return err
}

// EndAllSessions signs a user out everywhere.
func (u *Users) EndAllSessions(ctx context.Context, userID int64) error {
	_, err := u.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE user_id = $1`, userID)
	return err
}
