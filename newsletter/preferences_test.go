package newsletter

import (
	"context"
	"encoding/base64"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

var testTopics = []Topic{
	{Name: "Events", Names: map[string]string{"fr": "Événements"}, Tags: []string{"vigil", "march"}},
	{Name: "Reports", Tags: []string{"report"}},
}

// chooser adds a confirmed subscriber with their choices.
func (fx *fixture) chooser(t *testing.T, email, name string, pref subscribers.Preference, lang string, lists ...string) subscribers.Subscriber {
	t.Helper()
	sub, err := fx.subs.Add(context.Background(), subscribers.Subscriber{Email: email, Name: name, Status: subscribers.Confirmed,
		ConsentSource: "test", Preference: pref, Language: lang, Lists: lists})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func recipientsOf(t *testing.T, mp *mailpit.Server) []string {
	t.Helper()
	var out []string
	for addr := range inbox(t, mp) {
		out = append(out, addr)
	}
	slices.Sort(out)
	return out
}

// TestSendRespectsPreferences: with newsletter: both, a post goes to the
// "every post" supporters of its topics, the digest to the "digest" ones;
// paused supporters get nothing; each mail speaks the supporter's language.
func TestSendRespectsPreferences(t *testing.T) { pgpeer.EachDriver(t, testSendRespectsPreferences) }

func testSendRespectsPreferences(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), func(c *Config) { c.Newsletter = Both; c.Topics = testTopics })
	fx.chooser(t, "ann@example.org", "Anne", subscribers.EveryPost, "fr")
	fx.chooser(t, "ben@example.org", "", subscribers.Digest, "")
	fx.chooser(t, "cara@example.org", "", subscribers.Paused, "")
	fx.chooser(t, "dan@example.org", "", subscribers.EveryPost, "de", "reports")
	fx.chooser(t, "eve@example.org", "", subscribers.EveryPost, "es", "events")
	fx.chooser(t, "fay@example.org", "", subscribers.EveryPost, "", "members") // an imported list, not a topic
	fx.chooser(t, "gus@example.org", "", subscribers.Digest, "", "reports")

	vigil := samplePost()
	vigil.Tags = []string{"Vigil"}
	if _, err := fx.send(t, vigil); err != nil {
		t.Fatal(err)
	}
	if got, want := recipientsOf(t, mp), []string{"ann@example.org", "eve@example.org", "fay@example.org"}; !slices.Equal(got, want) {
		t.Fatalf("the events post went to %v, want %v", got, want)
	}
	msgs, _ := mp.Search(ctx, "to:ann@example.org")
	ann, err := mp.Message(ctx, msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Bonjour Anne,", "Choisir ce que vous recevez", "/preferences?t=u.", "Voir dans votre navigateur", "Se désabonner"} {
		if !strings.Contains(ann.Text, want) || !strings.Contains(ann.HTML, want) {
			t.Errorf("ann's mail (fr) lacks %q:\n%s", want, ann.Text)
		}
	}
	msgs, _ = mp.Search(ctx, "to:eve@example.org")
	eve, _ := mp.Message(ctx, msgs[0].ID)
	if !strings.Contains(eve.Text, "Darse de baja") {
		t.Errorf("eve's mail is not in Spanish:\n%s", eve.Text)
	}

	// A post on no topic goes to every "every post" supporter.
	mp.DeleteAll(ctx)
	general := samplePost()
	general.ID, general.Tags = "md:general", []string{"news"}
	if _, err := fx.send(t, general); err != nil {
		t.Fatal(err)
	}
	if got, want := recipientsOf(t, mp), []string{"ann@example.org", "dan@example.org", "eve@example.org", "fay@example.org"}; !slices.Equal(got, want) {
		t.Fatalf("the general post went to %v, want %v", got, want)
	}

	// The digest goes to the digest supporters of its topics.
	mp.DeleteAll(ctx)
	report := samplePost()
	report.ID, report.Tags = "md:report", []string{"report"}
	if _, err := fx.sender.Digest(ctx, "2026-W10", []post.Post{report}); err != nil {
		t.Fatal(err)
	}
	if got, want := recipientsOf(t, mp), []string{"ben@example.org", "gus@example.org"}; !slices.Equal(got, want) {
		t.Fatalf("the digest went to %v, want %v", got, want)
	}

	// The archive holds each newsletter's web version, with nothing personal.
	arch, _ := archive.Open(ctx, fx.db)
	list, err := arch.List(ctx, false, 10)
	if err != nil || len(list) != 3 {
		t.Fatalf("archive %+v, %v", list, err)
	}
	e, err := arch.Get(ctx, "post:md:vigil")
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"Anne", "?t=", "unsubscribe", "preferences", "crier-stand-in", "@example.org"} {
		if strings.Contains(e.HTML, leak) {
			t.Errorf("the archived web version contains %q", leak)
		}
	}
	if !strings.Contains(e.HTML, "Vigil for survivors") || !strings.Contains(e.HTML, "/subscribe") {
		t.Errorf("web version: %s", e.HTML)
	}
}

// TestSendOneModeIgnoresFrequency: when Crier sends only each post, a
// supporter who chose the digest gets each post (the page says so); a
// paused one still gets nothing.
func TestSendOneModeIgnoresFrequency(t *testing.T) {
	pgpeer.EachDriver(t, testSendOneModeIgnoresFrequency)
}

func testSendOneModeIgnoresFrequency(t *testing.T, driver string) {
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), func(c *Config) { c.Newsletter = EachPost })
	fx.chooser(t, "ann@example.org", "", subscribers.EveryPost, "")
	fx.chooser(t, "ben@example.org", "", subscribers.Digest, "")
	fx.chooser(t, "cara@example.org", "", subscribers.Paused, "")
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if got, want := recipientsOf(t, mp), []string{"ann@example.org", "ben@example.org"}; !slices.Equal(got, want) {
		t.Fatalf("went to %v, want %v", got, want)
	}
}

func TestTopicsOf(t *testing.T) {
	t.Parallel()
	keys, general := TopicsOf(testTopics, []post.Post{{Tags: []string{"MARCH"}}, {Tags: []string{"report", "vigil"}}})
	if !slices.Equal(keys, []string{"events", "reports"}) || general {
		t.Fatalf("TopicsOf = %v, %v", keys, general)
	}
	if _, general := TopicsOf(testTopics, []post.Post{{Tags: []string{"vigil"}}, {}}); !general {
		t.Fatal("a post with no topic makes the newsletter general")
	}
	probs := validateTopics([]Topic{{Name: "Événements", Tags: []string{"x"}}, {Name: "Events"}, {Name: "events", Tags: []string{"y"}}})
	if len(probs) != 3 {
		t.Fatalf("problems %+v", probs)
	}
}

// TestConfirmationInLanguage: the confirmation mail is in the language of
// the page the supporter subscribed on; an unknown one gives
// campaign.language.
func TestConfirmationInLanguage(t *testing.T) {
	t.Parallel()
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"fr": {"Veuillez confirmer votre abonnement à CAMACA", "Oui, je m’abonne", "Bonjour Zoé,"},
		"de": {"Bitte bestätigen Sie Ihre Anmeldung bei CAMACA", "Ja, anmelden"},
		"pt": {"Please confirm your subscription to CAMACA", "Yes, subscribe me"},
	} {
		msg, err := f.confirmation(subscribers.Subscriber{ID: 7, Email: "zoe@example.org", Name: "Zoé", Language: lang}, "https://news.camaca.org/confirm?t=c.7.1.x", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if _, err := msg.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		raw := decodeAll(t, b.String())
		for _, w := range want {
			if !strings.Contains(raw, w) {
				t.Errorf("%s confirmation lacks %q:\n%s", lang, w, raw)
			}
		}
	}
}

// decodeAll is a mail's subject and parts as text: encoded words and
// quoted-printable or base64 bodies decoded.
func decodeAll(t *testing.T, raw string) string {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	out := subject + "\n"
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		var r io.Reader = p // multipart.Part decodes quoted-printable itself
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, _ := io.ReadAll(r)
		out += string(b) + "\n"
	}
	return out
}

// TestPersonaliserFastInEveryLanguage: the built-in templates keep the
// render-once shortcut in every catalogue language (a template that broke
// it would make every send slower).
func TestPersonaliserFastInEveryLanguage(t *testing.T) {
	t.Parallel()
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	p := samplePost()
	p.ContentWarning = "violence"
	payload, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	probe := "https://news.camaca.org/unsubscribe?t=u.1234567.0.abc"
	for _, lang := range []string{"en", "fr", "es", "de"} {
		pz := f.newPersonaliser(m, probe, lang)
		if !pz.fast {
			t.Errorf("%s: the personaliser fell back to full renderings", lang)
		}
		html, text := pz.render("Zoë", probe)
		if !strings.Contains(text, "/preferences?t=u.1234567.0.abc") || !strings.Contains(html, "/preferences?t=u.1234567.0.abc") {
			t.Errorf("%s: no preferences link:\n%s", lang, text)
		}
	}
}
