package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/crierhq/crier/i18n"
	"github.com/crierhq/crier/subscribers"
)

// Form values of the frequency when Crier sends only one kind of
// newsletter: receiving it, or pausing.
const (
	freqReceive = "receive"
)

// relativePreferences is sub's preferences page relative to the page, so
// the pages also work when a reverse proxy serves them under a path prefix
// (public_url https://example.org/news/); it carries the unsubscribe token.
func (n *newsletter) relativePreferences(sub subscribers.Subscriber) string {
	return "preferences?t=" + url.QueryEscape(n.opts.Signer.Token(subscribers.PurposeUnsubscribe, sub, time.Time{}))
}

// sendsBoth reports whether Crier mails each post and the digest, so that
// supporters choose between them.
func (n *newsletter) sendsBoth() bool { return n.opts.Newsletter == "both" }

// frequencies are the radio buttons of the preferences page, with the
// supporter's choice checked.
func (n *newsletter) frequencies(lang string, p subscribers.Preference) ([]choice, string) {
	if n.sendsBoth() {
		return []choice{
			{Value: string(subscribers.EveryPost), Label: n.tr(lang, "prefs.each_post"), Checked: p == subscribers.EveryPost || p == ""},
			{Value: string(subscribers.Digest), Label: n.tr(lang, "prefs.digest"), Checked: p == subscribers.Digest},
			{Value: string(subscribers.Paused), Label: n.tr(lang, "prefs.paused"), Checked: p == subscribers.Paused},
		}, ""
	}
	note := n.tr(lang, "prefs.only_each_post")
	if n.opts.Newsletter == "digest" {
		note = n.tr(lang, "prefs.only_digest")
	}
	return []choice{
		{Value: freqReceive, Label: n.tr(lang, "prefs.receive"), Checked: p != subscribers.Paused},
		{Value: string(subscribers.Paused), Label: n.tr(lang, "prefs.paused"), Checked: p == subscribers.Paused},
	}, note
}

// preferenceOf reads the frequency a form sent, given what was stored;
// ok is false for a value the page does not offer.
func (n *newsletter) preferenceOf(v string, old subscribers.Preference) (subscribers.Preference, bool) {
	if n.sendsBoth() {
		p := subscribers.Preference(v)
		return p, p.Valid()
	}
	switch v {
	case string(subscribers.Paused):
		return subscribers.Paused, true
	case freqReceive:
		// The choice between each post and the digest is kept for when
		// the organisers send both.
		if old == subscribers.Paused || old == "" {
			if n.opts.Newsletter == "digest" {
				return subscribers.Digest, true
			}
			return subscribers.EveryPost, true
		}
		return old, true
	}
	return "", false
}

func (n *newsletter) mailLanguages(current string) []langLink {
	c := i18n.Builtin()
	var out []langLink
	for _, code := range c.Languages() {
		out = append(out, langLink{Code: code, Name: c.Name(code), Current: code == current})
	}
	return out
}

// preferencesData is the preferences page for sub showing the choices in
// p (what is stored, or what a refused form sent).
func (n *newsletter) preferencesData(lang, token string, sub subscribers.Subscriber, p subscribers.Preferences) pageData {
	mailLang := i18n.Builtin().Supported(p.Language)
	if mailLang == "" {
		mailLang = i18n.Builtin().Match("", n.opts.Campaign.Language)
	}
	d := pageData{Lang: lang, Token: token, MaskedEmail: maskEmail(sub.Email), Topics: n.topicChoices(lang, p.Lists),
		MailLanguages: n.mailLanguages(mailLang), NotSubscribed: sub.Status != subscribers.Confirmed, Errors: map[string]string{}}
	d.Frequencies, d.ModeNote = n.frequencies(lang, p.Preference)
	return d
}

// preferencesPage shows a supporter's choices. Like the unsubscribe page it
// needs no sign-in: the signed link is the authority.
func (n *newsletter) preferencesPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	sub, ok := n.linkSubscriber(w, r, token, subscribers.PurposeUnsubscribe)
	if !ok {
		return
	}
	d := n.preferencesData(n.lang(r), token, sub, subscribers.Preferences{Preference: sub.Preference, Lists: sub.Lists, Language: sub.Language})
	n.render(w, r, http.StatusOK, "preferences", d)
}

// savePreferences stores the choices of the preferences form. A bad link,
// a frequency, topic or language the page does not offer, or an unreadable
// body change nothing and say why.
func (n *newsletter) savePreferences(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r, n.opts.TrustedProxies)
	if ok, wait := n.prefsLimiter.allow(limitKey(ip)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		n.opts.Logger.Warn("preferences form rate limited", "ip", ip.String())
		n.metrics.inc(evRateLimited)
		n.render(w, r, http.StatusTooManyRequests, "error", pageData{Title: "error.too_many_title", Message: "error.too_many"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		n.unreadableForm(w, r, err)
		return
	}
	token := r.PostForm.Get("t")
	sub, ok := n.linkSubscriber(w, r, token, subscribers.PurposeUnsubscribe)
	if !ok {
		return
	}
	lang := n.lang(r)
	pref, okPref := n.preferenceOf(r.PostForm.Get("frequency"), sub.Preference)
	topics, okTopics := n.knownTopics(r.PostForm["topic"])
	mailLang := i18n.Builtin().Supported(r.PostForm.Get("mail_language"))
	okLang := mailLang != "" && mailLang == r.PostForm.Get("mail_language")
	if !okPref || !okTopics || !okLang {
		n.metrics.inc(evInvalid)
		// Show what is stored, with the errors: nothing was changed.
		d := n.preferencesData(lang, token, sub, subscribers.Preferences{Preference: sub.Preference, Lists: sub.Lists, Language: sub.Language})
		if !okPref {
			d.Errors["frequency"] = "prefs.err_frequency"
		}
		if !okTopics {
			d.Errors["topic"] = "prefs.err_topic"
		}
		if !okLang {
			d.Errors["language"] = "prefs.err_language"
		}
		n.render(w, r, http.StatusBadRequest, "preferences", d)
		return
	}
	// Lists that are not topics (from an import) stay as they are.
	for _, l := range sub.Lists {
		if !slices.ContainsFunc(n.opts.Topics, func(t Topic) bool { return t.Key == l }) {
			topics = append(topics, l)
		}
	}
	p := subscribers.Preferences{Preference: pref, Lists: topics, Language: mailLang}
	changed, err := n.opts.Store.SetPreferences(r.Context(), sub.ID, p, "preferences page", ip.String())
	if err != nil {
		n.fail(w, r, "saving preferences", err)
		return
	}
	if changed {
		n.opts.Logger.Info("subscriber preferences changed", "subscriber", sub.ID, "preferences", p.String())
		n.metrics.inc(evPreferences)
	}
	d := n.preferencesData(lang, token, sub, p)
	d.Message = "prefs.saved"
	n.render(w, r, http.StatusOK, "preferences", d)
}
