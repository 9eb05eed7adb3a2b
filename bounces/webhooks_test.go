package bounces_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/subscribers"
)

const certURL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
const topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"

// hooksBundle is a webhook server with every provider configured, an SNS
// signing certificate of the test's own served by a fake fetcher (tests
// never reach the network), and the keys to sign requests as each provider.
type hooksBundle struct {
	*bundle
	mux     *http.ServeMux
	snsKey  *rsa.PrivateKey
	sgKey   *ecdsa.PrivateKey
	mgKey   string
	certPEM string
	fetched []string
}

func setupHooks(t *testing.T) *hooksBundle {
	t.Helper()
	p, b := setup(t, bounces.Config{})
	return newHooksBundle(t, p, b)
}

// newHooksBundle makes the providers' keys and serves their webhooks to p.
func newHooksBundle(t *testing.T, p *bounces.Processor, b *bundle) *hooksBundle {
	t.Helper()
	hb := &hooksBundle{bundle: b, mgKey: "key-mailgun-signing-0123456789"}
	var err error
	if hb.snsKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: b.now.Add(-time.Hour), NotAfter: b.now.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &hb.snsKey.PublicKey, hb.snsKey)
	if err != nil {
		t.Fatal(err)
	}
	hb.certPEM = "-----BEGIN CERTIFICATE-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END CERTIFICATE-----\n"
	if hb.sgKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	hb.mux = hb.serve(t, p, b)
	return hb
}

// serve mounts the webhooks of every provider, with hb's keys, on a new mux
// that hands them to p (with b's clock): a daemon, restarted or another
// replica, that the same providers call.
func (hb *hooksBundle) serve(t *testing.T, p *bounces.Processor, b *bundle) *http.ServeMux {
	t.Helper()
	pub, _ := x509.MarshalPKIXPublicKey(&hb.sgKey.PublicKey)
	fetch := func(ctx context.Context, u string) ([]byte, error) {
		hb.fetched = append(hb.fetched, u)
		if u == certURL {
			return []byte(hb.certPEM), nil
		}
		if strings.HasPrefix(u, "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription") {
			return []byte("<ConfirmSubscriptionResponse/>"), nil
		}
		return nil, errors.New("not found")
	}
	h, err := bounces.NewHooks(bounces.HookOptions{Processor: p, Fetch: fetch, Now: func() time.Time { return b.now },
		Config: bounces.Webhooks{
			SES:      bounces.SES{TopicARNs: []string{topic}},
			Postmark: bounces.Postmark{Username: "postmark", Password: secret.Secret("postmark-webhook-password")},
			SendGrid: bounces.SendGrid{PublicKey: base64.StdEncoding.EncodeToString(pub)},
			Mailgun:  bounces.Mailgun{SigningKey: secret.Secret(hb.mgKey)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if got := h.Mount(mux); len(got) != 4 {
		t.Fatalf("mounted %v", got)
	}
	return mux
}

func (hb *hooksBundle) post(t *testing.T, path string, body []byte, hdr http.Header) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	hb.mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// sns builds an SNS message signed with the test certificate.
func (hb *hooksBundle) sns(t *testing.T, typ, id, message string, version int, ts time.Time) map[string]any {
	t.Helper()
	m := map[string]any{"Type": typ, "MessageId": id, "TopicArn": topic, "Message": message,
		"Timestamp": ts.UTC().Format("2006-01-02T15:04:05.000Z"), "SignatureVersion": strconv.Itoa(version), "SigningCertURL": certURL}
	var s strings.Builder
	s.WriteString("Message\n" + message + "\nMessageId\n" + id + "\n")
	if typ == "SubscriptionConfirmation" {
		m["Token"] = "2336412f37fb687f5d51e6e2425c464de257e"
		m["SubscribeURL"] = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=2336412f37fb687f5d51e6e2425c464de257e"
		s.WriteString("SubscribeURL\n" + m["SubscribeURL"].(string) + "\nTimestamp\n" + m["Timestamp"].(string) + "\nToken\n" + m["Token"].(string) + "\n")
	} else {
		s.WriteString("Timestamp\n" + m["Timestamp"].(string) + "\n")
	}
	s.WriteString("TopicArn\n" + topic + "\nType\n" + typ + "\n")
	var sig []byte
	var err error
	if version == 1 {
		sum := sha1.Sum([]byte(s.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, hb.snsKey, crypto.SHA1, sum[:])
	} else {
		sum := sha256.Sum256([]byte(s.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, hb.snsKey, crypto.SHA256, sum[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	return m
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// The SES bounce and complaint notifications as AWS documents them
// ("Amazon SES notification examples"), addressed to our subscribers.
func sesBounce(email, source string) string {
	return `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"` + email +
		`","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000","remoteMtaIp":"127.0.2.0","reportingMTA":"dsn; a8-70.smtp-out.amazonses.com"},` +
		`"mail":{"timestamp":"2016-01-27T14:59:38.237Z","messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000","source":"` + source +
		`","sourceArn":"arn:aws:ses:us-east-1:888888888888:identity/example.com","sendingAccountId":"123456789012","destination":["` + email + `"]}}`
}

func sesComplaint(email string) string {
	return `{"notificationType":"Complaint","complaint":{"userAgent":"AnyCompany Feedback Loop (V0.01)","complainedRecipients":[{"emailAddress":"` + email +
		`"}],"complaintFeedbackType":"abuse","arrivalDate":"2016-01-27T14:59:38.237Z","timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"},` +
		`"mail":{"timestamp":"2016-01-27T14:59:38.237Z","messageId":"000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000","source":"news@camaca.example","destination":["` + email + `"]}}`
}

func TestSESThroughSNS(t *testing.T) {
	t.Parallel()
	hb := setupHooks(t)
	ann := hb.confirmed(t, "ann@example.org")
	bob := hb.confirmed(t, "bob@example.org")
	cat := hb.confirmed(t, "cat@example.org")

	// A subscription is confirmed through the fetcher, after its signature.
	if code, body := hb.post(t, "/webhooks/ses", mustJSON(hb.sns(t, "SubscriptionConfirmation", "sub-1", "You have chosen to subscribe to the topic", 1, hb.now)), nil); code != 200 {
		t.Fatalf("subscription confirmation: %d %s", code, body)
	}
	bounce := mustJSON(hb.sns(t, "Notification", "n-1", sesBounce(ann.Email, hb.addrs.ReturnPath("post:md:vigil", ann.ID)), 1, hb.now))
	if code, body := hb.post(t, "/webhooks/ses", bounce, nil); code != 200 || !strings.Contains(body, `"bounced"`) {
		t.Fatalf("signed v1 bounce: %d %s", code, body)
	}
	if code, body := hb.post(t, "/webhooks/ses", bounce, nil); code != 200 || !strings.Contains(body, `"duplicate"`) {
		t.Fatalf("the same notification again: %d %s", code, body)
	}
	if code, body := hb.post(t, "/webhooks/ses", mustJSON(hb.sns(t, "Notification", "n-2", sesComplaint(bob.Email), 2, hb.now)), nil); code != 200 || !strings.Contains(body, `"unsubscribed"`) {
		t.Fatalf("signed v2 complaint: %d %s", code, body)
	}

	forged := hb.sns(t, "Notification", "n-3", sesBounce(cat.Email, ""), 2, hb.now)
	forged["Message"] = sesBounce(cat.Email+"x", "")
	unsigned := hb.sns(t, "Notification", "n-4", sesBounce(cat.Email, ""), 2, hb.now)
	delete(unsigned, "Signature")
	evilCert := hb.sns(t, "Notification", "n-5", sesBounce(cat.Email, ""), 2, hb.now)
	evilCert["SigningCertURL"] = "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"
	httpCert := hb.sns(t, "Notification", "n-6", sesBounce(cat.Email, ""), 2, hb.now)
	httpCert["SigningCertURL"] = strings.Replace(certURL, "https:", "http:", 1)
	otherPage := hb.sns(t, "Notification", "n-9", sesBounce(cat.Email, ""), 2, hb.now)
	otherPage["SigningCertURL"] = "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"
	otherTopic := hb.sns(t, "Notification", "n-7", sesBounce(cat.Email, ""), 2, hb.now)
	otherTopic["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else"
	old := hb.sns(t, "Notification", "n-8", sesBounce(cat.Email, ""), 2, hb.now.Add(-2*time.Hour))
	for name, m := range map[string]map[string]any{"altered message": forged, "unsigned": unsigned, "certificate elsewhere": evilCert,
		"certificate over http": httpCert, "another page of the SNS host": otherPage, "another topic": otherTopic, "two hours old (replay)": old} {
		if code, body := hb.post(t, "/webhooks/ses", mustJSON(m), nil); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, code, body)
		}
	}
	for _, u := range hb.fetched {
		if u != certURL && !strings.HasPrefix(u, "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription") {
			t.Errorf("fetched %s", u)
		}
	}
	if hb.status(t, ann.ID) != subscribers.Bounced || hb.status(t, bob.ID) != subscribers.Unsubscribed || hb.status(t, cat.ID) != subscribers.Confirmed {
		t.Fatalf("statuses: ann %s, bob %s, cat %s", hb.status(t, ann.ID), hb.status(t, bob.ID), hb.status(t, cat.ID))
	}
}

// Postmark's documented bounce webhook sample, to our subscriber.
func postmarkBounce(id int, typ, email string) []byte {
	return []byte(`{"RecordType":"Bounce","MessageStream":"broadcast","ID":` + strconv.Itoa(id) + `,"Type":"` + typ + `","TypeCode":1,"Name":"Hard bounce","Tag":"Test",` +
		`"MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).",` +
		`"Details":"Test bounce details","Email":"` + email + `","From":"news@camaca.example","BouncedAt":"2019-11-05T16:33:54.9070259Z","DumpAvailable":true,"Inactive":true,"CanActivate":true,"Subject":"Test subject"}`)
}

func TestPostmark(t *testing.T) {
	t.Parallel()
	hb := setupHooks(t)
	ann := hb.confirmed(t, "ann@example.org")
	bob := hb.confirmed(t, "bob@example.org")
	auth := func(u, p string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))}}
	}
	good := auth("postmark", "postmark-webhook-password")
	if code, body := hb.post(t, "/webhooks/postmark", postmarkBounce(42, "HardBounce", ann.Email), good); code != 200 || !strings.Contains(body, `"bounced"`) {
		t.Fatalf("hard bounce: %d %s", code, body)
	}
	if code, body := hb.post(t, "/webhooks/postmark", postmarkBounce(42, "HardBounce", ann.Email), good); code != 200 || !strings.Contains(body, `"duplicate"`) {
		t.Fatalf("replayed: %d %s", code, body)
	}
	for name, h := range map[string]http.Header{"no auth": nil, "wrong password": auth("postmark", "guess"), "wrong user": auth("admin", "postmark-webhook-password")} {
		if code, _ := hb.post(t, "/webhooks/postmark", postmarkBounce(43, "HardBounce", bob.Email), h); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	complaint := []byte(`{"RecordType":"SpamComplaint","MessageStream":"broadcast","ID":44,"Type":"SpamComplaint","TypeCode":100001,"Email":"` + bob.Email + `","MessageID":"00000000-0000-0000-0000-000000000000","BouncedAt":"2019-11-05T16:33:54Z"}`)
	if code, body := hb.post(t, "/webhooks/postmark", complaint, good); code != 200 || !strings.Contains(body, `"unsubscribed"`) {
		t.Fatalf("complaint: %d %s", code, body)
	}
	if hb.status(t, ann.ID) != subscribers.Bounced || hb.status(t, bob.ID) != subscribers.Unsubscribed {
		t.Fatal("statuses not changed")
	}
	// An erasure takes the subscriber's feedback rows with it.
	if err := hb.subs.Delete(context.Background(), ann.Email); err != nil {
		t.Fatal(err)
	}
	var left int
	hb.db.DB().QueryRow(`SELECT COUNT(*) FROM email_feedback WHERE subscriber_id = $1`, ann.ID).Scan(&left)
	if left != 0 {
		t.Fatalf("%d feedback rows outlive the erasure", left)
	}
	hb.db.DB().QueryRow(`SELECT COUNT(*) FROM email_feedback WHERE subscriber_id = $1`, bob.ID).Scan(&left)
	if left != 1 {
		t.Fatalf("bob's complaint: %d rows", left)
	}
}

// SendGrid's own test vector (sendgrid-go, helpers/eventwebhook).
func TestSendGridDocumentedVector(t *testing.T) {
	t.Parallel()
	const (
		key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
		sig = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
		ts  = "1588788367"
	)
	der, _ := base64.StdEncoding.DecodeString(key)
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"category":"example_payload","event":"test_event","message_id":"message_id"}`)
	if !bounces.VerifySendGrid(k.(*ecdsa.PublicKey), payload, sig, ts) {
		t.Fatal("SendGrid's documented signature did not verify")
	}
	if bounces.VerifySendGrid(k.(*ecdsa.PublicKey), append(payload, ' '), sig, ts) || bounces.VerifySendGrid(k.(*ecdsa.PublicKey), payload, sig, "1588788368") {
		t.Fatal("an altered payload or timestamp verified")
	}
}

func (hb *hooksBundle) sendgridHeaders(t *testing.T, body []byte, at time.Time) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	sum := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, hb.sgKey, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"X-Twilio-Email-Event-Webhook-Signature": {base64.StdEncoding.EncodeToString(sig)}, "X-Twilio-Email-Event-Webhook-Timestamp": {ts}}
}

func TestSendGrid(t *testing.T) {
	t.Parallel()
	hb := setupHooks(t)
	ann := hb.confirmed(t, "ann@example.org")
	bob := hb.confirmed(t, "bob@example.org")
	cat := hb.confirmed(t, "cat@example.org")
	// Events as SendGrid's Event Webhook reference shows them.
	body := []byte(`[{"email":"` + ann.Email + `","timestamp":1513299569,"smtp-id":"<crier.` + bounces.SendHash("post:md:vigil") + `.` + strconv.FormatInt(ann.ID, 10) + `@camaca.example>","event":"bounce","category":"cat facts","sg_event_id":"6g4ZI7SA-xmRDv57GoPIPw==","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0","reason":"500 unknown recipient","status":"5.0.0","type":"bounce"},` +
		`{"email":"` + bob.Email + `","timestamp":1513299569,"event":"spamreport","sg_event_id":"37nvH5QBz858KGVYCM4uOA==","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"},` +
		`{"email":"` + cat.Email + `","timestamp":1513299569,"event":"delivered","sg_event_id":"rWVYmVk90MjZJ9iohOBa3w==","response":"250 OK"}]`)
	if code, out := hb.post(t, "/webhooks/sendgrid", body, hb.sendgridHeaders(t, body, hb.now)); code != 200 || !strings.Contains(out, `"bounced"`) || !strings.Contains(out, `"unsubscribed"`) {
		t.Fatalf("signed events: %d %s", code, out)
	}
	if code, out := hb.post(t, "/webhooks/sendgrid", body, hb.sendgridHeaders(t, body, hb.now)); code != 200 || strings.Count(out, `"duplicate"`) != 2 {
		t.Fatalf("replayed in the window: %d %s", code, out)
	}
	other := []byte(strings.ReplaceAll(string(body), ann.Email, cat.Email))
	forged := hb.sendgridHeaders(t, body, hb.now)
	for name, c := range map[string]struct {
		body []byte
		h    http.Header
	}{
		"unsigned":                {other, nil},
		"signature of another":    {other, forged},
		"an hour old (replay)":    {body, hb.sendgridHeaders(t, body, hb.now.Add(-time.Hour))},
		"timestamp header edited": {body, http.Header{"X-Twilio-Email-Event-Webhook-Signature": forged["X-Twilio-Email-Event-Webhook-Signature"], "X-Twilio-Email-Event-Webhook-Timestamp": {strconv.FormatInt(hb.now.Unix()+1, 10)}}},
	} {
		if code, _ := hb.post(t, "/webhooks/sendgrid", c.body, c.h); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if hb.status(t, ann.ID) != subscribers.Bounced || hb.status(t, bob.ID) != subscribers.Unsubscribed || hb.status(t, cat.ID) != subscribers.Confirmed {
		t.Fatal("statuses")
	}
}

func (hb *hooksBundle) mailgunBody(email, event, severity, id, token string, at time.Time) []byte {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(hb.mgKey))
	m.Write([]byte(ts + token))
	return []byte(`{"signature":{"timestamp":"` + ts + `","token":"` + token + `","signature":"` + hex.EncodeToString(m.Sum(nil)) + `"},` +
		`"event-data":{"event":"` + event + `","severity":"` + severity + `","id":"` + id + `","timestamp":1521472262.908181,"recipient":"` + email + `","reason":"generic",` +
		`"delivery-status":{"code":550,"message":"5.1.1 The email account that you tried to reach does not exist.","description":""},"message":{"headers":{"message-id":"20130503182626.18666.16540@camaca.example"}}}}`)
}

func TestMailgun(t *testing.T) {
	t.Parallel()
	hb := setupHooks(t)
	ann := hb.confirmed(t, "ann@example.org")
	bob := hb.confirmed(t, "bob@example.org")
	cat := hb.confirmed(t, "cat@example.org")
	first := hb.mailgunBody(ann.Email, "failed", "permanent", "G9Bn5sl1TC6nu79C8C0bwg", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0", hb.now)
	if code, out := hb.post(t, "/webhooks/mailgun", first, nil); code != 200 || !strings.Contains(out, `"bounced"`) {
		t.Fatalf("permanent failure: %d %s", code, out)
	}
	if code, _ := hb.post(t, "/webhooks/mailgun", first, nil); code != http.StatusUnauthorized {
		t.Fatalf("the same token again: %d, want 401", code)
	}
	if code, out := hb.post(t, "/webhooks/mailgun", hb.mailgunBody(bob.Email, "complained", "", "c-1", "token-2-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", hb.now), nil); code != 200 || !strings.Contains(out, `"unsubscribed"`) {
		t.Fatalf("complaint: %d %s", code, out)
	}
	forged := hb.mailgunBody(cat.Email, "failed", "permanent", "f-1", "token-3-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", hb.now)
	forged = bytes.Replace(forged, []byte(`"signature":"`), []byte(`"signature":"00`), 1)
	old := hb.mailgunBody(cat.Email, "failed", "permanent", "f-2", "token-4-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", hb.now.Add(-time.Hour))
	unsigned := []byte(`{"event-data":{"event":"failed","severity":"permanent","id":"f-3","recipient":"` + cat.Email + `"}}`)
	for name, body := range map[string][]byte{"forged": forged, "an hour old": old, "unsigned": unsigned} {
		if code, _ := hb.post(t, "/webhooks/mailgun", body, nil); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if hb.status(t, ann.ID) != subscribers.Bounced || hb.status(t, bob.ID) != subscribers.Unsubscribed || hb.status(t, cat.ID) != subscribers.Confirmed {
		t.Fatal("statuses")
	}
}

// TestProviderLabelsAreJudged holds the webhooks to the reader's rules: a
// provider's "Permanent" or "HardBounce" on a refusal of Crier's sending
// (spam, blocklist, DMARC) is not a hard bounce and does not count against
// the supporter; a full mailbox is soft whatever the label.
func TestProviderLabelsAreJudged(t *testing.T) {
	t.Parallel()
	hb := setupHooks(t)
	ann, bob := hb.confirmed(t, "ann@example.org"), hb.confirmed(t, "bob@example.org")
	cat, dan := hb.confirmed(t, "cat@example.org"), hb.confirmed(t, "dan@example.org")
	eve := hb.confirmed(t, "eve@example.org")
	ses := strings.Replace(sesBounce(ann.Email, ""), `"status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"`,
		`"status":"5.7.1","diagnosticCode":"smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"`, 1)
	postmark := bytes.Replace(postmarkBounce(77, "HardBounce", bob.Email), []byte(`"Details":"Test bounce details"`),
		[]byte(`"Details":"smtp;550 5.7.1 Message rejected as spam by Content Filtering."`), 1)
	sendgrid := []byte(`[{"email":"` + cat.Email + `","event":"bounce","type":"bounce","sg_event_id":"sg-77","status":"5.7.1",` +
		`"reason":"550 5.7.1 Unauthenticated email from camaca.example is not accepted due to domain's DMARC policy"}]`)
	mailgun := bytes.Replace(hb.mailgunBody(dan.Email, "failed", "permanent", "mg-77", "token-77-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", hb.now),
		[]byte("5.1.1 The email account that you tried to reach does not exist."), []byte("5.7.1 Our system has detected that this message is likely unsolicited mail."), 1)
	full := bytes.Replace(postmarkBounce(78, "HardBounce", eve.Email), []byte(`"Details":"Test bounce details"`),
		[]byte(`"Details":"smtp;552 5.2.2 Mailbox full"`), 1)
	pmAuth := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("postmark:postmark-webhook-password"))}}
	for _, c := range []struct {
		name, path string
		body       []byte
		h          http.Header
		want       string
	}{
		{"SES Permanent, blocklisted IP", "/webhooks/ses", mustJSON(hb.sns(t, "Notification", "n-77", ses, 2, hb.now)), nil, `"sending_problem"`},
		{"Postmark HardBounce, taken for spam", "/webhooks/postmark", postmark, pmAuth, `"sending_problem"`},
		{"SendGrid bounce, DMARC", "/webhooks/sendgrid", sendgrid, hb.sendgridHeaders(t, sendgrid, hb.now), `"sending_problem"`},
		{"Mailgun permanent, taken for spam", "/webhooks/mailgun", mailgun, nil, `"sending_problem"`},
		{"Postmark HardBounce, mailbox full", "/webhooks/postmark", full, pmAuth, `"soft_bounce"`},
	} {
		if code, out := hb.post(t, c.path, c.body, c.h); code != 200 || !strings.Contains(out, c.want) {
			t.Errorf("%s: %d %s, want %s", c.name, code, out, c.want)
		}
	}
	for _, s := range []subscribers.Subscriber{ann, bob, cat, dan, eve} {
		if st := hb.status(t, s.ID); st != subscribers.Confirmed {
			t.Errorf("%s: %s, want still confirmed", s.Email, st)
		}
	}
}
