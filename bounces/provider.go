package bounces

import (
	"fmt"
	"strings"
)

// providerBounce is a bounce a sending provider reports (SES, Postmark,
// SendGrid, Mailgun), by webhook or by mail: the receiving server's status
// and reply as the provider passes them on, and the provider's own label.
type providerBounce struct {
	email, status, diag string
	// who and label name the provider's classification, for the rule.
	who, label string
	// fallback is the reason the provider's label stands for, used only
	// when the reply names none ("" when the label says nothing: then a
	// permanent bounce stands for an unknown address).
	fallback Reason
	// permanent is the provider's hard flag. It says the provider will not
	// retry, not that the address is gone: it only settles a reply whose
	// words say the address is unknown but whose code and SMTP command do
	// not (the provider saw the session).
	permanent bool
}

// judgeProvider judges a provider's bounce like a mailbox bounce: the
// receiving server's status and reply decide, so a "Permanent" policy
// refusal is soft (and, being about Crier's sending, not counted against
// the supporter).
func judgeProvider(b providerBounce) Recipient {
	r := Recipient{Address: strings.ToLower(strings.TrimSpace(b.email)), Action: "failed", Status: specificCode(b.status), Diagnostic: clip(b.diag, 1000)}
	r.Verdict = judge(r.Status, r.Diagnostic, "")
	label := strings.TrimSpace(b.who + " " + b.label)
	fallback := b.fallback
	if fallback == "" && b.permanent {
		// The provider's hard bounce, with a reply that names nothing: its
		// label is the only evidence there is.
		fallback = ReasonUserUnknown
	}
	switch {
	case r.Reason == ReasonUndefined && fallback != "":
		r.Verdict = Verdict{Class: ClassSoft, Reason: fallback,
			Rule: fmt.Sprintf("the reply names no reason; %s says %s", label, fallback.Plain())}
		if fallback.Hard() {
			r.Class = ClassHard
		}
	case r.Reason == ReasonFiltered && b.permanent && unknownAnyStage(r.Diagnostic):
		r.Verdict = Verdict{Class: ClassHard, Reason: ReasonUserUnknown,
			Rule: r.Rule + "; " + label + " saw the session and calls it permanent"}
	}
	r.Hard = r.Class == ClassHard
	return r
}

// unknownAnyStage says whether a reply's words say the address is
// unknown and nothing places the reply after DATA or MAIL FROM, nor gives
// a mailbox code (5.2.x) that makes it a filter.
func unknownAnyStage(diag string) bool {
	r, p := reasonFromText(strings.ToLower(diag))
	if r != ReasonUserUnknown {
		return false
	}
	c := specificCode(diag)
	return smtpStage(diag, p) == "" && (c == "" || strings.HasSuffix(c, ".0.0"))
}

// feedbackFor is what a judged recipient is for the supporter: a hard
// bounce, a refusal of Crier's sending, or a soft bounce.
func feedbackFor(r Recipient) string {
	switch {
	case r.Class == ClassHard:
		return FeedbackHard
	case r.Reason.Sending():
		return FeedbackRefused
	}
	return FeedbackSoft
}

// providerEvent is the event a judged provider bounce makes.
func providerEvent(source, ref string, hints []string, b providerBounce) ProviderEvent {
	r := judgeProvider(b)
	return ProviderEvent{Source: source, Ref: ref, Kind: feedbackFor(r), Email: b.email, Hints: hints,
		Detail: strings.TrimSpace(bounceDetail(r) + " [" + strings.TrimSpace(b.who+" "+b.label) + "]")}
}

// sesReason is the reason an SES bounce subtype stands for.
var sesReason = map[string]Reason{
	"NoEmail":            ReasonUserUnknown,
	"MailboxFull":        ReasonMailboxFull,
	"MessageTooLarge":    ReasonMesgTooBig,
	"ContentRejected":    ReasonSpamDetected,
	"AttachmentRejected": ReasonPolicy,
}

// postmarkReason is the reason a Postmark bounce type stands for.
var postmarkReason = map[string]Reason{
	"HardBounce":      ReasonUserUnknown,
	"BadEmailAddress": ReasonUserUnknown,
	"DnsError":        ReasonNetworkError,
}
