// Package console provides the organisers' web console: sign-in, writing
// and previewing posts, the approval flow, the calendar, delivery follow-up,
// supporters and feeds, served by Crier's own HTTP server.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Publisher is what the console asks of the bot: publish through the normal
// durable path, and say which channels exist and when the digest runs.
type Publisher interface {
	// Publish queues the post's deliveries and returns the channels queued;
	// a post whose link was already published returns an error with a
	// DuplicateOf() string method naming that post (see Duplicate).
	Publish(ctx context.Context, p post.Post) ([]string, error)
	// Retry queues a post's failed deliveries again (crier retry does the same).
	Retry(ctx context.Context, postID string, only []string) ([]string, error)
	ChannelNames() []string
	NextDigest(now time.Time) (time.Time, bool)
}

// Duplicate is what an error from Publisher.Publish has when the post was
// recorded as a duplicate of one already published, rather than sent.
type Duplicate interface{ DuplicateOf() string }

// Rendering is one channel's formatting of one post.
type Rendering struct {
	Channel string
	// Type is the channel's type (mastodon, discord, email, bluesky): the
	// class of its preview. Empty means the same as Channel.
	Type string
	// Docs is the page of docs/ that explains the channel's settings
	// ("mastodon.md"); empty means configuration.md.
	Docs    string
	Payload channels.Payload
	// Card is the payload as the channel draws it for the previews
	// (channels.Instance.PreviewCard); an empty card shows the payload's
	// fields.
	Card channels.PreviewCard
	Err  error
}

// Feed is a configured feed as the feeds page shows it.
type Feed struct {
	Name, URL, Schedule string
	// Next returns the next poll after the last one.
	Next func(last time.Time) time.Time
}

// Options configure the console.
type Options struct {
	Users     *Users
	Store     *store.Store
	Publisher Publisher
	// Render formats a post for every enabled channel with the same
	// formatters delivery and `crier preview` use. It stops, returning what
	// it has, when ctx is done (the reader left): see docs/architecture.md.
	Render func(ctx context.Context, p post.Post) []Rendering
	// SendReport is the progress of a post's send on a channel that
	// tracks its sends itself (the newsletter's per-recipient counts);
	// nil means no channel does.
	SendReport func(ctx context.Context, channel, postID string) (channels.SendReport, bool)
	// Subscribers is nil when the newsletter is off.
	Subscribers *subscribers.Store
	// Restore mails a bounced supporter a fresh confirmation link (the
	// console's "restore"); nil when the newsletter is off.
	Restore func(ctx context.Context, id int64, by string) error
	// SendTest mails one copy of a post's newsletter to an organiser; nil
	// when the newsletter is off.
	SendTest func(ctx context.Context, p post.Post, to string) error
	// Reconfirm mails a confirmation link to an address erased at its
	// owner's request: it is back on the list only if they confirm. Nil
	// when the newsletter is off.
	Reconfirm func(ctx context.Context, email, by string) error
	Feeds     []Feed
	// RequireApproval: an author's post can't go out until an editor approves it.
	RequireApproval bool
	// PublicURL decides the Secure cookie flag and builds image URLs.
	PublicURL string
	// Outbox names the channels that only save posts locally (render to
	// the outbox folder, having no account), each with why, e.g. "no
	// Bluesky account connected".
	Outbox map[string]string
	// OutboxDir is the outbox folder, where the saved copies are.
	OutboxDir string
	// DataDir holds uploaded images (DataDir/uploads).
	DataDir  string
	Location *time.Location
	// Language is campaign.language ("en-GB", "de"): the schedule field
	// reads and writes dates and times as its locale does (when.go).
	Language string
	Campaign string
	Logger   *slog.Logger
	Now      func() time.Time
	// ClientIP names the client for throttling (behind trusted proxies);
	// nil means the connection's address.
	ClientIP func(r *http.Request) string
	// Lifetime is the daemon's: work the console runs in the background
	// (a supporters' import) stops when it ends. Nil means never; Stop
	// ends that work too.
	Lifetime context.Context

	// AccountMail sends password-reset and invitation links; nil when no
	// mail server is configured (owners then set passwords themselves).
	AccountMail AccountMailer
	// AccountMailReady says whether AccountMail has a mail server now (one
	// may be connected or disconnected on the Channels page while the
	// daemon runs); nil means AccountMail != nil decides.
	AccountMailReady func(context.Context) bool
	// Notify queues a notice to organisers (in the daemon, a River job that
	// calls SendNotice); nil means nobody is told.
	Notify func(ctx context.Context, n Notice) error
	// Chats are the organisers' chat rooms notices are also posted to
	// (console.notify.discord_webhook, console.notify.matrix); each person
	// chooses which of their notices go to each.
	Chats []Chat

	// Accounts is the Channels page's (hooks.go); nil hides the page.
	Accounts ChannelAccounts
	// Corrections corrects and withdraws published posts; nil hides
	// Correct everywhere and Withdraw everywhere.
	Corrections Corrections
	// Reach is what posts reached; nil hides the Reach panel and the
	// What worked page.
	Reach ReachSource
}

// Console is the organisers' web console.
type Console struct {
	opts     Options
	pages    map[string]*template.Template
	throttle *throttle
	mux      *http.ServeMux
	previews *previewCache
	imports  *imports
	counts   countCache
	lifetime context.Context
	people   *forgotLimit
	// refreshes limits the Reach panel's Refresh (reach.go).
	refreshes refreshLimit
}

// Mounter is where the console mounts its routes (web.Server).
type Mounter interface {
	Handle(pattern string, h http.Handler)
}

// New builds the console.
func New(opts Options) (*Console, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.ClientIP == nil {
		opts.ClientIP = func(r *http.Request) string {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return host
		}
	}
	if opts.Lifetime == nil {
		opts.Lifetime = context.Background()
	}
	if opts.Store != nil {
		if err := prepareImports(opts.Lifetime, opts.Store.DB()); err != nil {
			return nil, err
		}
	}
	c := &Console{opts: opts, throttle: newThrottle(opts.Now), previews: newPreviewCache(opts.Now),
		imports: &imports{m: map[string]context.CancelFunc{}}, lifetime: opts.Lifetime, people: newForgotLimit()}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// Mount adds the console's routes to the server: the console at / and its
// pages, assets and uploaded images.
func (c *Console) Mount(m Mounter) {
	for _, p := range append(routePatterns, peopleRoutePatterns...) {
		m.Handle(p, c.mux)
	}
}

// Handler returns the console alone, for tests.
func (c *Console) Handler() http.Handler { return c.mux }

var routePatterns = []string{"/{$}", "/login", "/logout", "/logout-everywhere", "/posts", "/posts/", "/preview", "/preview/",
	"/calendar", "/supporters", "/supporters/", "/feeds", "/users", "/users/", "/media/", "/static/", "/when", "/worked", "/worked.csv"}

func (c *Console) routes() {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheForever(http.FileServerFS(static))))
	mux.HandleFunc("GET /media/{name}", c.media)
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.Handle("POST /logout", c.auth(RoleAuthor, c.logout))
	mux.Handle("POST /logout-everywhere", c.auth(RoleAuthor, c.logoutEverywhere))
	mux.Handle("GET /{$}", c.auth(RoleAuthor, func(w http.ResponseWriter, r *http.Request, s Session) {
		http.Redirect(w, r, "/posts", http.StatusSeeOther)
	}))
	mux.Handle("GET /posts", c.auth(RoleAuthor, c.postsList))
	mux.Handle("GET /posts/new", c.auth(RoleAuthor, c.newPost))
	mux.Handle("POST /posts", c.auth(RoleAuthor, c.savePost))
	mux.Handle("GET /posts/{id}", c.auth(RoleAuthor, c.postPage))
	mux.Handle("GET /posts/{id}/edit", c.auth(RoleAuthor, c.editPost))
	mux.Handle("GET /posts/{id}/live", c.auth(RoleAuthor, c.postLive))
	mux.Handle("POST /posts/{id}", c.auth(RoleAuthor, c.savePost))
	mux.Handle("GET /posts/{id}/markdown", c.auth(RoleAuthor, c.downloadMarkdown))
	mux.Handle("GET /posts/{id}/saved/{channel}", c.auth(RoleAuthor, c.savedCopy))
	mux.Handle("POST /posts/{id}/approve", c.auth(RoleEditor, c.approve))
	mux.Handle("POST /posts/{id}/schedule", c.auth(RoleEditor, c.schedule))
	mux.Handle("POST /posts/{id}/publish", c.auth(RoleEditor, c.publishNow))
	mux.Handle("POST /posts/{id}/cancel", c.auth(RoleEditor, c.cancel))
	mux.Handle("POST /posts/{id}/retry", c.auth(RoleEditor, c.retry))
	mux.Handle("POST /posts/{id}/reach", c.auth(RoleAuthor, c.refreshReach))
	mux.Handle("POST /posts/{id}/went-out", c.auth(RoleEditor, c.wentOut))
	mux.Handle("POST /posts/{id}/send-again", c.auth(RoleEditor, c.sendAgain))
	mux.Handle("POST /posts/{id}/test", c.auth(RoleEditor, c.testNewsletter))
	mux.Handle("POST /posts/{id}/sendback", c.auth(RoleEditor, c.sendBack))
	mux.Handle("POST /posts/{id}/comment", c.auth(RoleAuthor, c.comment))
	mux.Handle("POST /posts/{id}/duplicate", c.auth(RoleAuthor, c.duplicate))
	mux.Handle("GET /posts/{id}/delete", c.auth(RoleAuthor, c.deleteDraft))
	mux.Handle("POST /posts/{id}/delete", c.auth(RoleAuthor, c.deleteDraft))
	mux.Handle("POST /preview", c.auth(RoleAuthor, c.livePreview))
	mux.Handle("GET /when", c.auth(RoleAuthor, c.whenCheck))
	mux.Handle("GET /preview/email/{key}", c.auth(RoleAuthor, c.cachedEmailPreview))
	mux.Handle("GET /preview/image/{key}", c.auth(RoleAuthor, c.cachedImage))
	mux.Handle("GET /calendar", c.auth(RoleAuthor, c.calendar))
	mux.Handle("GET /feeds", c.auth(RoleAuthor, c.feeds))
	mux.Handle("GET /worked", c.auth(RoleAuthor, c.whatWorked))
	mux.Handle("GET /worked.csv", c.auth(RoleAuthor, c.whatWorkedCSV))
	mux.Handle("GET /supporters", c.auth(RoleEditor, c.supporters))
	mux.Handle("GET /supporters/export", c.auth(RoleEditor, c.exportSupporters))
	mux.Handle("POST /supporters", c.auth(RoleEditor, c.addSupporter))
	mux.Handle("POST /supporters/remove", c.auth(RoleEditor, c.removeSupporter))
	mux.Handle("POST /supporters/reconfirm", c.auth(RoleOwner, c.reconfirmSupporter))
	mux.Handle("POST /supporters/import", c.auth(RoleEditor, c.importSupporters))
	mux.Handle("GET /supporters/import/{id}", c.auth(RoleEditor, c.importStatus))
	mux.Handle("GET /supporters/{id}", c.auth(RoleEditor, c.supporter))
	mux.Handle("POST /supporters/{id}/restore", c.auth(RoleEditor, c.restoreSupporter))
	mux.Handle("GET /users", c.auth(RoleOwner, c.usersPage))
	mux.Handle("GET /setup", c.auth(RoleOwner, c.setupPage))
	mux.Handle("POST /users", c.auth(RoleOwner, c.addUser))
	mux.Handle("POST /users/remove", c.auth(RoleOwner, c.removeUser))
	mux.Handle("POST /users/role", c.auth(RoleOwner, c.setRole))
	c.peopleRoutes(mux)
	c.calendarRoutes(mux)
	c.channelsRoutes(mux)
	c.correctionRoutes(mux)
	// Anything else under the console's sections gets a page that explains.
	for _, p := range []string{"/posts/", "/preview/", "/supporters/", "/users/", "/channels/"} {
		mux.Handle(p, c.auth(RoleAuthor, c.unknownPage))
	}
	c.mux = mux
}

func cacheForever(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows only the console's own scripts, styles and
// frames: inline script, event attributes and javascript: URLs never run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; " +
	"frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"

func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "SAMEORIGIN")
}

const sessionCookie = "crier_session"

func (c *Console) secure() bool { return strings.HasPrefix(c.opts.PublicURL, "https://") }

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.secure(),
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// handlerFunc is a console handler for a signed-in user.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s Session)

// auth admits a signed-in user with at least the role need, and checks the
// CSRF token of every state-changing request.
func (c *Console) auth(need Role, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		ck, _ := r.Cookie(sessionCookie)
		var id string
		if ck != nil {
			id = ck.Value
		}
		s, err := c.opts.Users.Session(r.Context(), id)
		if err != nil {
			if !errors.Is(err, ErrNoUser) {
				c.serverError(w, r, "reading the session", err)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Please sign in again: your session has ended.", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			limit := int64(maxUpload)
			if r.URL.Path == "/supporters/import" {
				limit = maxImportBytes
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !validCSRF(r, s.CSRF) {
			http.Error(w, "This form has expired or did not come from the console. Go back, reload the page and try again.", http.StatusForbidden)
			return
		}
		if !s.User.Role.Can(need) {
			w.WriteHeader(http.StatusForbidden)
			c.render(w, r, s, "forbidden", map[string]any{"Need": string(need)})
			return
		}
		h(w, r, s)
	})
}

func (c *Console) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.opts.Logger.Error("console: "+what, "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong while "+what+". The error is in Crier's log; please try again.", http.StatusInternalServerError)
}

func urlQueryEscape(s string) string { return template.URLQueryEscaper(s) }

var errNotConsole = errors.New("only posts written in the console can be changed here")
