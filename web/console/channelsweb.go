package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/channels"
)

// The Channels page is where an owner connects Crier to its networks
// without touching the server: each instance says its state in plain
// words, and its Connect form is made from the fields its type declares
// (channels.Connector), so a network added later gets the page for free.
// The console only shows and asks: ChannelAccounts (hooks.go) checks,
// stores and audits. Secrets go one way: typed into a password field,
// never shown again (only when they were set).

func init() {
	pageNames = append(pageNames, "channels", "channelhop")
	routePatterns = append(routePatterns, "/channels", "/channels/")
}

// oauthCallbackPath is where an OAuth server sends the owner back, under
// http.public_url (the redirect URI Crier registers).
const oauthCallbackPath = "/channels/oauth/callback"

func (c *Console) channelsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /channels", c.auth(RoleOwner, c.channelsPage))
	mux.HandleFunc("GET "+oauthCallbackPath, c.oauthCallback)
	mux.Handle("POST /channels/{name}/connect", c.auth(RoleOwner, c.connectChannel))
	mux.Handle("POST /channels/{name}/test", c.auth(RoleOwner, c.testChannel))
	mux.Handle("POST /channels/{name}/disconnect", c.auth(RoleOwner, c.disconnectChannel))
}

// channelView is one instance as the page shows it.
type channelView struct {
	ChannelInstance
	// State is the chip's class and words; Says is the state in a
	// sentence, Todo what to do about it ("" when nothing).
	State, Chip, Says, Todo string
	Fields                  []fieldView
	// Open: the connect form is shown open (it was just refused).
	Open bool
	// Problem is a refusal not about one field.
	Problem string
	// Connected: Test and Disconnect apply (a console connection).
	Connected bool
}

// fieldView is one field of a connect form.
type fieldView struct {
	channels.ConnectField
	ID, Value, Error string
	// SetOn is when a secret field was set (zero: never).
	SetOn time.Time
}

// connectForm is what an owner just sent for one instance, to show again.
type connectForm struct {
	Instance string
	Values   map[string]string
	Err      error
}

func (c *Console) channelsPage(w http.ResponseWriter, r *http.Request, s Session) {
	if c.opts.Accounts == nil {
		c.notFound(w, r, "the Channels page (this Crier cannot connect accounts from the console)")
		return
	}
	notice := ""
	if q := r.URL.Query(); q.Get("done") != "" {
		notice = c.channelsDone(r.Context(), q.Get("done"), q.Get("instance"))
	}
	c.showChannels(w, r, s, http.StatusOK, notice, "", nil)
}

// channelsDone is the fixed sentence for an action that redirected back;
// nothing from the address is shown but a listed instance's own data.
func (c *Console) channelsDone(ctx context.Context, done, name string) string {
	inst, err := c.findInstance(ctx, name)
	if err != nil || inst == nil {
		return ""
	}
	switch done {
	case "connected":
		if inst.Display == "" {
			return "Connected " + inst.Name + "."
		}
		return "Connected " + inst.Name + " as " + inst.Display + ". Posts to " + inst.Name + " are sent from now on; no restart needed."
	case "disconnected":
		return "Disconnected " + inst.Name + ": its posts are saved to the outbox on this machine until it is connected again."
	}
	return ""
}

// showChannels renders the page; form, when set, is a refused connect
// form to show again with its problem.
func (c *Console) showChannels(w http.ResponseWriter, r *http.Request, s Session, status int, notice, problem string, form *connectForm) {
	insts, err := c.opts.Accounts.Instances(r.Context())
	if err != nil {
		c.serverError(w, r, "listing the channels", err)
		return
	}
	views := make([]channelView, 0, len(insts))
	for _, inst := range insts {
		views = append(views, channelViewOf(inst, form))
	}
	data := map[string]any{"Channels": views, "Notice": notice, "Problem": problem, "NoPublicURL": c.opts.PublicURL == ""}
	if events, err := c.opts.Accounts.Audit(r.Context(), 50); err != nil {
		c.opts.Logger.Warn("console: reading the accounts' audit trail", "err", err)
		data["AuditProblem"] = "The list of changes could not be read just now; the error is in Crier's log."
	} else {
		data["Audit"] = events
	}
	w.WriteHeader(status)
	c.render(w, r, s, "channels", data)
}

// channelViewOf puts an instance's state into words and makes its form,
// with form's values and refusal when it is this instance's.
func channelViewOf(inst ChannelInstance, form *connectForm) channelView {
	v := channelView{ChannelInstance: inst, Connected: inst.Origin == string(accounts.FromConsole)}
	switch {
	case !inst.Editable:
		v.State, v.Chip = "server", "Configured on the server"
		v.Says = "Configured on the server"
		if inst.Display != "" {
			v.Says += ", as " + inst.Display
		}
		v.Says += ". The console cannot change it."
		v.Todo = "To change it, change the environment or config.yaml (channels." + inst.Name + ") on the server; to connect it here instead, remove it there first."
	case !inst.RejectedAt.IsZero():
		v.State, v.Chip = "rejected", "Rejected"
		v.Says = typeName(inst.Type) + " rejected the connection on " + shortDate(inst.RejectedAt)
		if inst.RejectedReason != "" {
			v.Says += ": " + strings.TrimSuffix(inst.RejectedReason, ".")
		}
		v.Says += "."
		v.Todo = "Connect it again below (a new token or password, or authorise Crier again); until then nothing reaches " + inst.Name + "."
	case v.Connected || inst.Display != "":
		v.State, v.Chip = "connected", "Connected"
		v.Says = "Connected"
		if inst.Display != "" {
			v.Says += " as " + inst.Display
		}
		if !inst.ConnectedAt.IsZero() {
			v.Says += " since " + shortDate(inst.ConnectedAt)
		}
		if inst.ConnectedBy != "" {
			v.Says += " by " + inst.ConnectedBy
		}
		v.Says += "."
	default:
		v.State, v.Chip = "none", "Not connected"
		v.Says = "Not connected: posts are saved to the outbox on this machine, not sent."
		if inst.Connectable {
			v.Todo = "Connect it below."
		}
	}
	if !inst.Connectable && inst.Editable {
		v.Todo = "Crier cannot connect a " + inst.Type + " account from the console: set it in config.yaml on the server (docs/" + inst.Type + ".md says how)."
	}
	if !inst.Editable || !inst.Connectable {
		return v
	}
	mine := form != nil && form.Instance == inst.Name
	var bad *channels.ConnectError
	if mine {
		v.Open = true
		if !errors.As(form.Err, &bad) || !hasField(inst.Fields, bad.Field) {
			v.Problem = refusalWords(form.Err)
			bad = nil
		}
	}
	for _, f := range inst.Fields {
		fv := fieldView{ConnectField: f, ID: "ch-" + inst.Name + "-" + f.Name, SetOn: inst.SecretsSet[f.Name]}
		switch {
		case f.Secret: // never back to the page, not even refused
		case mine:
			fv.Value = form.Values[f.Name]
		default:
			fv.Value = inst.Settings[f.Name]
		}
		if bad != nil && bad.Field == f.Name {
			fv.Error = bad.Reason
		}
		v.Fields = append(v.Fields, fv)
	}
	return v
}

func hasField(fields []channels.ConnectField, name string) bool {
	for _, f := range fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// refusalWords is a refusal as the page says it.
func refusalWords(err error) string {
	var bad *channels.ConnectError
	if errors.As(err, &bad) {
		return bad.Reason
	}
	return err.Error()
}

// typeName is a channel type as a network's name ("Discord").
func typeName(t string) string {
	if t == "" {
		return "The network"
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

func shortDate(t time.Time) string { return t.Format("2 Jan 2006") }

// findInstance is the listed instance named name, nil when there is none.
func (c *Console) findInstance(ctx context.Context, name string) (*ChannelInstance, error) {
	insts, err := c.opts.Accounts.Instances(ctx)
	if err != nil {
		return nil, err
	}
	for i := range insts {
		if insts[i].Name == name {
			return &insts[i], nil
		}
	}
	return nil, nil
}

// changeable finds the path's instance for an action, answering for it
// when there is none or the console may not change it.
func (c *Console) changeable(w http.ResponseWriter, r *http.Request, s Session) (*ChannelInstance, bool) {
	if c.opts.Accounts == nil {
		c.notFound(w, r, "the Channels page (this Crier cannot connect accounts from the console)")
		return nil, false
	}
	inst, err := c.findInstance(r.Context(), r.PathValue("name"))
	switch {
	case err != nil:
		c.serverError(w, r, "listing the channels", err)
		return nil, false
	case inst == nil:
		c.notFound(w, r, "no channel of that name in Crier's configuration")
		return nil, false
	case !inst.Editable:
		c.showChannels(w, r, s, http.StatusConflict, "", accounts.ConfiguredOnServerError{Instance: inst.Name}.Error()+".", nil)
		return nil, false
	}
	return inst, true
}

// refused shows an action's refusal: on the instance's form for a
// connect, at the top otherwise.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, s Session, form *connectForm) {
	var server accounts.ConfiguredOnServerError
	switch {
	case errors.As(form.Err, &server):
		c.showChannels(w, r, s, http.StatusConflict, "", server.Error()+".", nil)
	case form.Instance == "":
		c.showChannels(w, r, s, http.StatusUnprocessableEntity, "", strings.TrimSuffix(refusalWords(form.Err), ".")+".", nil)
	default:
		c.showChannels(w, r, s, http.StatusUnprocessableEntity, "", "", form)
	}
}

func (c *Console) connectChannel(w http.ResponseWriter, r *http.Request, s Session) {
	inst, ok := c.changeable(w, r, s)
	if !ok {
		return
	}
	if !inst.Connectable {
		c.showChannels(w, r, s, http.StatusUnprocessableEntity, "", "Crier cannot connect a "+inst.Type+" account from the console: set it in config.yaml on the server.", nil)
		return
	}
	values := map[string]string{}
	for _, f := range inst.Fields {
		v := r.PostFormValue(f.Name)
		if !f.Secret { // a password may begin or end with a space
			v = strings.TrimSpace(v)
		}
		values[f.Name] = v
	}
	form := &connectForm{Instance: inst.Name, Values: values}
	if inst.OAuth {
		c.startOAuth(w, r, s, inst, form)
		return
	}
	if _, form.Err = c.opts.Accounts.Connect(r.Context(), s.User.Email, inst.Name, values); form.Err != nil {
		c.refused(w, r, s, form)
		return
	}
	c.backToChannels(w, r, "connected", inst.Name)
}

// startOAuth sends the owner to the network to authorise Crier; the
// network sends them back to oauthCallbackPath under public_url.
func (c *Console) startOAuth(w http.ResponseWriter, r *http.Request, s Session, inst *ChannelInstance, form *connectForm) {
	if c.opts.PublicURL == "" {
		form.Err = errors.New("Crier's public address is not set (config.yaml, http.public_url): " + inst.Type + " sends you back to Crier at that address after you authorise it. Set it, then connect.")
		c.refused(w, r, s, form)
		return
	}
	redirect := strings.TrimRight(c.opts.PublicURL, "/") + oauthCallbackPath
	to, err := c.opts.Accounts.StartOAuth(r.Context(), s.User.Email, inst.Name, form.Values, redirect)
	if err == nil {
		if u, perr := url.Parse(to); perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			err = errors.New("the server gave no address to authorise Crier at: check the server's address")
		}
	}
	if err != nil {
		form.Err = err
		c.refused(w, r, s, form)
		return
	}
	// Not a redirect: browsers hold a form's redirect to CSP form-action
	// ('self'), so a page of Crier's own sends the owner on.
	c.render(w, r, s, "channelhop", map[string]any{"Next": to, "Heading": "Going to " + form.Values[oauthServerField(inst)] + " to authorise Crier",
		"Text": "You sign in there and authorise Crier; the server then sends you back here.", "LinkText": "Continue to the server"})
}

// oauthServerField is the form's field an OAuth type asks for (the server),
// the first one.
func oauthServerField(inst *ChannelInstance) string {
	if len(inst.Fields) == 0 {
		return ""
	}
	return inst.Fields[0].Name
}

// oauthCallback receives the owner back from the network. The session
// cookie is SameSite=Strict, so a browser coming from the network's site
// does not send it: a page of Crier's own then opens the same address
// again, a navigation from this site that carries the cookie.
func (c *Console) oauthCallback(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(sessionCookie); err != nil && r.URL.Query().Get("hop") == "" {
		secureHeaders(w)
		q := r.URL.Query()
		q.Set("hop", "1")
		c.render(w, r, Session{}, "channelhop", map[string]any{"Next": oauthCallbackPath + "?" + q.Encode(), "Heading": "Finishing the connection",
			"Text": "You are back from the server.", "LinkText": "Continue to the Channels page"})
		return
	}
	c.auth(RoleOwner, c.finishOAuth).ServeHTTP(w, r)
}

// oauthErrorCode is an OAuth error code as RFC 6749 spells them; nothing
// else from the address is shown.
var oauthErrorCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

func (c *Console) finishOAuth(w http.ResponseWriter, r *http.Request, s Session) {
	if c.opts.Accounts == nil {
		c.notFound(w, r, "the Channels page (this Crier cannot connect accounts from the console)")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		if q.Get("state") != "" {
			// The engine ends the sign-in it started (its state is used
			// up) and records the refusal; no code means none is stored.
			_, _, _ = c.opts.Accounts.FinishOAuth(r.Context(), s.User.Email, q.Get("state"), "")
		}
		why := "The server did not authorise Crier"
		switch {
		case e == "access_denied":
			why = "Crier was not authorised (the authorisation was declined)"
		case oauthErrorCode.MatchString(e):
			why += " (it answered " + e + ")"
		}
		c.showChannels(w, r, s, http.StatusUnprocessableEntity, "", why+". Nothing was connected: press Connect to try again.", nil)
		return
	}
	if q.Get("state") == "" || q.Get("code") == "" {
		c.showChannels(w, r, s, http.StatusBadRequest, "", "This address is not a complete answer from the server (no state or code). Nothing was connected: press Connect to try again.", nil)
		return
	}
	name, _, err := c.opts.Accounts.FinishOAuth(r.Context(), s.User.Email, q.Get("state"), q.Get("code"))
	if err != nil {
		c.showChannels(w, r, s, http.StatusUnprocessableEntity, "", "Connecting did not work: "+strings.TrimSuffix(refusalWords(err), ".")+". Press Connect to try again.", nil)
		return
	}
	c.backToChannels(w, r, "connected", name)
}

// backToChannels redirects to the page, which says what was done.
func (c *Console) backToChannels(w http.ResponseWriter, r *http.Request, done, name string) {
	http.Redirect(w, r, "/channels?done="+done+"&instance="+url.QueryEscape(name)+"#channel-"+url.PathEscape(name), http.StatusSeeOther)
}

func (c *Console) testChannel(w http.ResponseWriter, r *http.Request, s Session) {
	inst, ok := c.changeable(w, r, s)
	if !ok {
		return
	}
	to := ""
	if inst.TestSends {
		to = s.User.Email // only ever the owner's own address
	}
	detail, err := c.opts.Accounts.Test(r.Context(), s.User.Email, inst.Name, to)
	if err != nil {
		var server accounts.ConfiguredOnServerError
		status := http.StatusUnprocessableEntity
		if errors.As(err, &server) {
			status = http.StatusConflict
		}
		c.showChannels(w, r, s, status, "", "The test of "+inst.Name+" did not work: "+strings.TrimSuffix(refusalWords(err), ".")+".", nil)
		return
	}
	notice := "Tested " + inst.Name + ": it works."
	if detail != "" {
		notice = "Tested " + inst.Name + ": " + strings.TrimSuffix(detail, ".") + "."
	}
	c.showChannels(w, r, s, http.StatusOK, notice, "", nil)
}

func (c *Console) disconnectChannel(w http.ResponseWriter, r *http.Request, s Session) {
	inst, ok := c.changeable(w, r, s)
	if !ok {
		return
	}
	account := inst.Name
	if inst.Display != "" {
		account = inst.Display + " (" + inst.Name + ")"
	}
	if !confirmed(r) {
		c.askFirst(w, r, s, question{
			Title: "Disconnect " + account + "?",
			Consequences: []string{
				"Crier stops sending to " + account + ": posts to " + inst.Name + " are saved to the outbox on this machine, not sent, until someone connects it again.",
				"The token or password stored for it is deleted from Crier. Anything already sent stays where it is.",
			},
			Action: "/channels/" + url.PathEscape(inst.Name) + "/disconnect",
			Button: "Yes, disconnect " + account, Back: "/channels", BackLabel: "Keep it connected",
		})
		return
	}
	if err := c.opts.Accounts.Disconnect(r.Context(), s.User.Email, inst.Name); err != nil {
		c.refused(w, r, s, &connectForm{Err: err})
		return
	}
	c.backToChannels(w, r, "disconnected", inst.Name)
}
