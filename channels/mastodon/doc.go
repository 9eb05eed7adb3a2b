// Package mastodon provides the Mastodon channel on github.com/mattn/go-mastodon:
// a formatter that composes toots within the instance's own limits (counted
// the way the server counts), shortening at sentence or word boundaries or
// splitting into a numbered thread, and a sender that posts them with an
// Idempotency-Key, records every status in the delivery ledger as soon as it
// exists, checks the account's timeline before posting again after an
// ambiguous failure, uploads images with their alt text and classifies
// errors for the delivery engine.
package mastodon
