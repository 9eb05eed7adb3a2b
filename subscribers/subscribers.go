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

// Preference is what a confirmed supporter chose to receive.
type Preference string

const (
	// EveryPost: each post's newsletter as it is published (the default).
	EveryPost Preference = "each_post"
	// Digest: the digest newsletter (schedules.digest).
	Digest Preference = "digest"
	// Paused: nothing for now, staying on the list.
	Paused Preference = "paused"
)

// Valid reports whether p is one of the known preferences.
func (p Preference) Valid() bool {
	switch p {
	case EveryPost, Digest, Paused:
		return true
	}
	return false
}

// Subscriber is one supporter on the list.
type Subscriber struct {
	ID     int64  `json:"id"`
	Email  string `json:"email"` // normalised, unique
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Lists are the topics the supporter chose (the organiser's lists,
	// channels.email.topics); none means every topic.
	Lists []string `json:"lists"`
	// Preference is what they receive: every post, the digest, or nothing
	// for now (paused); empty means EveryPost.
	Preference Preference `json:"preference"`
	// Language is the language of Crier's own words in their mail (an
	// i18n catalogue code, recorded at sign-up from the page's language);
	// empty means campaign.language.
	Language string `json:"language"`
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
	// Topics are the lists supporters may choose (channels.email.topics).
	Topics []Topic
	// Sends is what the channel mails: each_post, digest or both
	// (channels.email.newsletter); the preferences page offers a choice of
	// frequency only with both.
	Sends string
}

// Topic is one of the organiser's lists, as supporters see it.
type Topic struct {
	Key   string            // stored in the subscriber's lists
	Name  string            // shown
	Names map[string]string // the name in other languages, by code
}
