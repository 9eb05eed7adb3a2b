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
	ID     int64
	Email  string // normalised, unique
	Name   string
	Status Status
	Lists  []string
	// Consent records when, how and from where the supporter agreed.
	ConsentAt     time.Time
	ConsentSource string // e.g. "form:/subscribe", "import:members.csv"
	ConsentIP     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Mailer sends the double opt-in confirmation mail. The email channel
// implements it (and writes to the outbox when it has no SMTP server).
type Mailer interface {
	SendConfirmation(ctx context.Context, sub Subscriber, confirmURL string) error
}
