// Package matrix provides the Matrix channel: each post as an
// m.room.message in one or more rooms, through the client-server API, as
// one account (a bot user and its access token).
//
// A post is a text message with a plain body and an HTML formatted_body
// restricted to the HTML the specification allows; its picture is uploaded
// to the media repository and sent as m.image with the alt text as its
// body; a content warning hides the text as a data-mx-spoiler with the
// warning as its reason. A post over the limits measured on Dendrite goes
// out as a thread (m.thread) under its first message.
//
// Every event is sent with PUT …/send/m.room.message/{txnId}, the txnId
// derived from (post, instance, part): a retry after a lost answer is the
// same event for as long as the homeserver remembers the transaction
// (Dendrite: 30 to 60 minutes, per access token, in memory; see
// docs/matrix.md), and after that a retry that may repeat a send first
// looks for its event in the room. Corrections are m.replace edits,
// withdrawals redactions, and reach the reactions (m.annotation) and
// thread replies the homeserver's /relations returns.
package matrix

// Name is the channel type's name in config.yaml.
const Name = "matrix"
