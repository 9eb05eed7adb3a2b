package bounces

import (
	"encoding/json"
	"strings"
)

// readSESNotification reads an Amazon SES notification mailed as JSON by
// an SNS e-mail subscription (the body is the notification, or the SNS
// envelope holding it, followed by SNS's footer).
func readSESNotification(text string) (sesNotification, bool) {
	var n sesNotification
	start := strings.IndexByte(text, '{')
	if start < 0 || !strings.Contains(text, `"notificationType"`) && !strings.Contains(text, `"eventType"`) {
		return n, false
	}
	// sendmail splits lines over 990 bytes with "!", a line break and a
	// space: joined back, the JSON reads.
	body := strings.NewReplacer("!\r\n ", "", "!\n ", "").Replace(text[start:])
	dec := json.NewDecoder(strings.NewReader(body))
	var env struct {
		sesNotification
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}
	if err := dec.Decode(&env); err != nil {
		return n, false
	}
	n = env.sesNotification
	if env.Type == "Notification" && env.Message != "" {
		if err := json.Unmarshal([]byte(env.Message), &n); err != nil {
			return n, false
		}
	}
	return n, n.NotificationType != "" || n.EventType != ""
}

// mergeSES fills rep from an SES notification. SES's Permanent/Transient
// says whether SES will retry, not whether the address is gone: each
// recipient is judged on its own status and diagnostic like any report.
func mergeSES(rep Report, n sesNotification) Report {
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	switch typ {
	case "Bounce":
		rep.Kind = KindBounce
		for _, rc := range n.Bounce.BouncedRecipients {
			a := typedAddress(rc.EmailAddress)
			if a == "" || len(rep.Recipients) == maxRecipients {
				continue
			}
			r := judgeProvider(sesBounce(n, a, rc.Status, rc.DiagnosticCode))
			r.Address = a
			rep.Recipients = append(rep.Recipients, r)
		}
	case "Complaint":
		rep.Kind, rep.FeedbackType = KindComplaint, n.Complaint.ComplaintFeedbackType
		if rep.FeedbackType == "not-spam" {
			rep.Kind = KindOther
		}
		for _, rc := range n.Complaint.ComplainedRecipients {
			if a := typedAddress(rc.EmailAddress); a != "" && len(rep.Recipients) < maxRecipients {
				rep.Recipients = append(rep.Recipients, Recipient{Address: a,
					Verdict: Verdict{Class: ClassComplaint, Reason: "feedback", Rule: "SES complaint notification"}})
			}
		}
	default: // Delivery, Send, Open...: not feedback
		rep.Kind = KindOther
	}
	return rep
}

// sesBounce is one recipient of an SES bounce notification to judge.
// SES's Permanent only says SES will not retry; its subtype names a
// reason when the reply names none. A suppressed address was not tried at
// all (SES's list holds old bounces and complaints alike): no evidence.
func sesBounce(n sesNotification, email, status, diag string) providerBounce {
	sub := n.Bounce.BounceSubType
	suppressed := sub == "Suppressed" || sub == "OnAccountSuppressionList"
	return providerBounce{email: email, status: status, diag: diag, who: "SES", label: n.Bounce.BounceType + "/" + sub,
		fallback: sesReason[sub], permanent: n.Bounce.BounceType == "Permanent" && !suppressed}
}
