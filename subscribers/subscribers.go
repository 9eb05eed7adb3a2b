// Package subscribers provides the newsletter's supporters: their addresses,
// status and consent records in the store, the signed links they confirm and
// leave with, and CSV import and export.
package subscribers

import (
	"context"
	"time"
)

// Status is where a subscriber stands.
type Status string

const (
	Unconfirmed  Status = "unconfirmed"
	Confirmed    Status = "confirmed"
	Unsubscribed Status = "unsubscribed"
	Bounced      Status = "bounced"
)

// Subscriber is one supporter on the list.
type Subscriber struct {
	ID     int64    `json:"id"`
	Email  string   `json:"email"` // normalised, unique
	Name   string   `json:"name"`
	Status Status   `json:"status"`
	Lists  []string `json:"lists"`
	// Consent records when, how and from where the supporter agreed.
	ConsentAt     time.Time `json:"consent_at,omitzero"`
	ConsentSource string    `json:"consent_source"` // e.g. "form:/subscribe", "import:members.csv"
	ConsentIP     string    `json:"consent_ip"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Mailer sends the double opt-in confirmation mail. The email channel
// implements it (and writes to the outbox when it has no SMTP server).
type Mailer interface {
	SendConfirmation(ctx context.Context, sub Subscriber, confirmURL string) error
}

// Newsletter is what the newsletter's pages need from the channel that
// sends it: the supporters, the link signer and the mailer of confirmation
// mails.
type Newsletter struct {
	Store  *Store
	Signer *Signer
	Mailer Mailer
	// ConfirmationsPerHour caps confirmation mails (see the email config).
	ConfirmationsPerHour int
	// Erased removes what the mailer kept of an erased subscriber (the
	// outbox's copies of their confirmation mails).
	Erased func(id int64) error
}
