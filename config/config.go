// Package config provides Crier's configuration: config.yaml with ${ENV}
// expansion for secrets, and validation that reports every problem at once
// with its file and line.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	// The binary carries its own time-zone database: campaign.timezone and
	// CRON_TZ must work in a distroless image without /usr/share/zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"

	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/internal/explain"
	"github.com/crierhq/crier/schedules"
	"github.com/crierhq/crier/titlecard"
)

// Config is the whole of config.yaml.
type Config struct {
	Campaign  Campaign  `yaml:"campaign"`
	DataDir   string    `yaml:"data_dir"`
	Log       Log       `yaml:"log"`
	HTTP      HTTP      `yaml:"http"`
	Store     Store     `yaml:"store"`
	Sources   Sources   `yaml:"sources"`
	Schedules Schedules `yaml:"schedules"`
	Delivery  Delivery  `yaml:"delivery"`
	Fetch     Fetch     `yaml:"fetch"`
	Console   Console   `yaml:"console"`
	Reach     Reach     `yaml:"reach"`
	// Channels are the sections under channels:, one per channel instance,
	// in file order. The channel registry reads them; config knows no
	// channel type.
	Channels []ChannelSection `yaml:"-"`

	// path is the file the config was read from; relative paths in it are
	// resolved against its folder.
	path string
	// lines is where each field path is, for Problem.
	lines map[string]int
	// fromEnv is where values came from the environment (validator.fromEnv),
	// for the channel sections' type errors.
	fromEnv map[int]string
	// loc is campaign.timezone, loaded.
	loc *time.Location
}

// Campaign describes the organisation.
type Campaign struct {
	Name     string `yaml:"name"`
	Website  string `yaml:"website"`
	Language string `yaml:"language"`
	// Timezone is an IANA zone name (Europe/London): front-matter times
	// without an offset are read in it, cron specs without CRON_TZ run in
	// it, and Crier shows times in it. Empty means UTC.
	Timezone string `yaml:"timezone"`
	// PrivacyPolicy is the address of the campaign's privacy policy, linked
	// from the subscribe form (empty: no link).
	PrivacyPolicy string `yaml:"privacy_policy"`
	// Colours are the campaign's colours, for what Crier draws itself
	// (the title card of a post without a picture on Instagram).
	Colours Colours `yaml:"colours"`
}

// Colours are a campaign's colours as "#rrggbb"; empty ones take Crier's
// defaults.
type Colours struct {
	Background string `yaml:"background"`
	Text       string `yaml:"text"`
	Accent     string `yaml:"accent"`
}

// Log sets the structured log output.
type Log struct {
	Format string `yaml:"format"` // text or json
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// HTTP is the daemon's web server (health, metrics, newsletter pages, admin).
type HTTP struct {
	Listen string `yaml:"listen"`
	// PublicURL is how supporters reach the pages (used in links in mail).
	PublicURL string `yaml:"public_url"`
	// AdminToken guards /admin/ (at least 32 characters; empty: the admin
	// API is off).
	AdminToken secret.Secret `yaml:"admin_token"`
	// MetricsToken, when set, is the bearer token /metrics requires
	// (empty: /metrics is open to whoever reaches the listen address).
	MetricsToken secret.Secret `yaml:"metrics_token"`
	// TrustedProxies are reverse proxies (addresses or CIDR prefixes) whose
	// X-Forwarded-For the newsletter pages believe, for the per-address rate
	// limit and the consent record; see web.ParseTrustedProxies.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Templates is a folder whose page templates replace the built-in ones
	// file by file (empty: the built-in ones); relative to the config file.
	Templates string `yaml:"templates"`
}

// Console is the organisers' web console, served at / by the HTTP server.
type Console struct {
	// RequireApproval: a post written by an author can't go out until an
	// editor approves it.
	RequireApproval bool `yaml:"require_approval"`
	// Notify is where the console's notices to organisers go besides mail.
	Notify ConsoleNotify `yaml:"notify"`
}

// ConsoleNotify configures the organisers' chat for console notices.
type ConsoleNotify struct {
	// DiscordWebhook is a Discord channel's webhook URL (usually
	// ${ORGANISERS_DISCORD_WEBHOOK}); it is a secret and never prints.
	DiscordWebhook secret.Secret `yaml:"discord_webhook"`
	// Matrix is the organisers' Matrix room (all three keys, or none).
	Matrix MatrixNotify `yaml:"matrix"`
}

// MatrixNotify is a Matrix room the console posts notices to, as one
// account of a homeserver.
type MatrixNotify struct {
	// Homeserver is the account's homeserver, https://matrix.example.org.
	Homeserver string `yaml:"homeserver"`
	// Room is the room's ID (!abc:example.org) or alias
	// (#organisers:example.org).
	Room string `yaml:"room"`
	// AccessToken is the account's access token; it must come from the
	// environment (${ORGANISERS_MATRIX_TOKEN}) and never prints.
	AccessToken secret.Secret `yaml:"access_token"`
}

// Configured reports whether notices are to go to a Matrix room.
func (m MatrixNotify) Configured() bool {
	return m.Homeserver != "" || m.Room != "" || m.AccessToken.IsSet()
}

// Store chooses the database.
type Store struct {
	// Driver is sqlite (embedded default) or postgres (several replicas).
	Driver string `yaml:"driver"`
	// Path is the SQLite file; empty means DATA_DIR/crier.db.
	Path string `yaml:"path"`
	// DSN is PostgreSQL's connection string (a libpq URL or key=value
	// pairs, TLS options included), usually ${DATABASE_URL}: it may hold
	// the password, so it never prints.
	DSN secret.Secret `yaml:"dsn"`
}

// Sources lists where posts come from.
type Sources struct {
	Markdown Markdown `yaml:"markdown"`
	Feeds    []Feed   `yaml:"feeds"`
}

// Markdown is a folder of posts with YAML front matter.
type Markdown struct {
	Dir string `yaml:"dir"`
}

// Feed is an RSS, Atom or JSON Feed polled on a schedule.
type Feed struct {
	Name string `yaml:"name"`
	// URL is http(s), or a local file path (relative to the config file).
	URL      string `yaml:"url"`
	Schedule string `yaml:"schedule"`
	// PublishNewest is how many items the first poll publishes; the rest of
	// the back catalogue is only recorded as seen.
	PublishNewest int `yaml:"publish_newest"`
	// OnEdit is ignore (default) or update (publish an update note).
	OnEdit string `yaml:"on_edit"`
	// Corrections says what an item whose text changed after it was
	// published (same guid) does: ask (default) marks it "changed since
	// published" for an organiser to correct; auto queues the correction
	// everywhere it went out.
	Corrections string `yaml:"corrections"`
	// ContentWarning is given to every item of the feed (feeds have no
	// field for one, and campaign topics often need it).
	ContentWarning string `yaml:"content_warning"`
	// Tags are added to every item's own categories.
	Tags []string `yaml:"tags"`
	// Example marks a sample feed shipped with Crier: its items are only
	// ever rendered to the outbox, never sent for real.
	Example bool `yaml:"example"`
}

// What a feed's edited item does (Feed.Corrections).
const (
	CorrectionsAsk  = "ask"
	CorrectionsAuto = "auto"
)

// Schedules are the organisers' cron specs.
type Schedules struct {
	// PublishDue scans the Markdown folder and publishes posts that are due.
	PublishDue string `yaml:"publish_due"`
	// Digest sends the newsletter digest; empty means no digest.
	Digest string `yaml:"digest"`
	// MaxLateness bounds catch-up: a run missed while Crier was down is made
	// up once on start if it is not older than this.
	MaxLateness time.Duration `yaml:"max_lateness"`
}

// Delivery tunes the delivery jobs.
type Delivery struct {
	// Timeout bounds one send attempt.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts before a delivery is parked as failed.
	MaxAttempts int `yaml:"max_attempts"`
	// Workers is how many deliveries run at once.
	Workers int `yaml:"workers"`
}

// Reach tunes how Crier reads back what each post reached (package reach).
type Reach struct {
	// Schedule is when, after a delivery, its counters are read: each a
	// time since the delivery, in increasing order; after the last, no
	// more reads.
	Schedule []time.Duration `yaml:"schedule"`
	// KeepReplies is how long a reply is kept for the post page.
	KeepReplies time.Duration `yaml:"keep_replies"`
	// ReadsPerHour caps the reads of one channel per hour, across
	// replicas (one read is a few requests to the network).
	ReadsPerHour int `yaml:"reads_per_hour"`
	// MaxReplies is how many replies per post and channel are kept.
	MaxReplies int `yaml:"max_replies"`
}

// DefaultReach is the shipped reach: section: reads after 1 hour, 6 hours,
// a day, 3 days and a week; replies kept 30 days; 120 reads per channel
// per hour; 20 replies.
func DefaultReach() Reach {
	return Reach{
		Schedule:     []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, 168 * time.Hour},
		KeepReplies:  30 * 24 * time.Hour,
		ReadsPerHour: 120,
		MaxReplies:   20,
	}
}

// Fetch configures the client through which Crier fetches addresses that
// came from content (a post's or feed item's image), never from the config.
type Fetch struct {
	// AllowNetworks are IP addresses or CIDR prefixes that content may be
	// fetched from although they are not public (an intranet image
	// server). Empty: only public addresses.
	AllowNetworks []string `yaml:"allow_networks"`
	// Timeout bounds one fetch (0: 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// Problem is one thing wrong with the config, at a place in a file.
type Problem struct {
	File    string
	Line    int
	Field   string
	Message string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Field, p.Message)
	}
	return fmt.Sprintf("%s: %s", loc, p.Message)
}

// Problems is every problem found; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("%d problem(s) in config:\n  %s", len(ps), strings.Join(lines, "\n  "))
}

// Load reads, expands, decodes and validates the config at path. A returned
// error of type Problems lists every problem found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load on bytes, with lookup standing in for the environment.
func Parse(path string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	cfg, probs := ParseAll(path, data, lookup)
	if len(probs) > 0 {
		return nil, probs
	}
	return cfg, nil
}

// ParseAll is Parse returning the config together with its problems, so that
// the channel registry can add the problems of the channel sections and
// report everything at once. The config is nil only when the file is not
// YAML or is empty.
func ParseAll(path string, data []byte, lookup func(string) (string, bool)) (*Config, Problems) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg, _ := explain.YAML(err, string(data))
		return nil, Problems{{File: path, Line: line, Message: "the file cannot be read: " + msg}}
	}
	v := &validator{file: path, lines: map[string]int{}}
	if len(root.Content) == 0 {
		return nil, Problems{{File: path, Line: 1, Message: "the file is empty; see the shipped config.yaml for an example"}}
	}
	doc := root.Content[0]
	v.expand(doc, lookup)
	chans := takeKey(doc, "channels")
	v.walk(doc, reflect.TypeOf(Config{}), "")

	cfg := defaults()
	v.decode(doc, cfg)
	cfg.path, cfg.lines, cfg.fromEnv = path, v.lines, v.fromEnv
	cfg.Channels = v.channelSections(chans, cfg)
	v.check(cfg)
	v.problems.Sort()
	return cfg, v.problems
}

// decode decodes n into out, turning YAML's type errors into problems.
func (v *validator) decode(n *yaml.Node, out any) {
	err := n.Decode(out)
	if err == nil {
		return
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			line := yamlErrorLine(errors.New(msg))
			msg = v.hideEnvValue(line, trimLine(msg))
			v.problems = append(v.problems, Problem{File: v.file, Line: line, Field: v.fieldAt(line), Message: friendlyTypeError(msg)})
		}
		return
	}
	v.problems = append(v.problems, Problem{File: v.file, Message: err.Error()})
}

// Sort orders problems by line, as Parse reports them.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}

// takeKey removes key from a mapping node and returns its value (nil when
// absent).
func takeKey(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			val := n.Content[i+1]
			n.Content = append(n.Content[:i:i], n.Content[i+2:]...)
			return val
		}
	}
	return nil
}

func defaults() *Config {
	return &Config{
		DataDir:   "data",
		Log:       Log{Format: "text", Level: "info"},
		HTTP:      HTTP{Listen: "127.0.0.1:8080"},
		Store:     Store{Driver: "sqlite"},
		Sources:   Sources{Markdown: Markdown{Dir: "posts"}},
		Schedules: Schedules{PublishDue: "@every 1m", MaxLateness: 6 * time.Hour},
		Delivery:  Delivery{Timeout: 2 * time.Minute, MaxAttempts: 10, Workers: 4},
		Console:   Console{RequireApproval: true},
		Reach:     DefaultReach(),
	}
}

// Location is campaign.timezone (UTC when it is not set).
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// Problem is a problem at a field of the core config (a path such as
// "schedules.digest"), at its line or its nearest parent's: channel
// providers use it for checks that involve the rest of the config.
func (c *Config) Problem(field, format string, args ...any) Problem {
	v := &validator{file: c.path, lines: c.lines}
	return Problem{File: c.path, Line: v.line(field), Field: field, Message: fmt.Sprintf(format, args...)}
}

// Path returns the file the config was read from.
func (c *Config) Path() string { return c.path }

// Resolve makes a path from the config relative to the config file's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// DataPath returns a path inside the data folder.
func (c *Config) DataPath(elem ...string) string {
	return filepath.Join(append([]string{c.Resolve(c.DataDir)}, elem...)...)
}

// Database returns the store's driver and where its database is: the
// SQLite file, or PostgreSQL's connection string.
func (c *Config) Database() (driver, target string) {
	if c.Store.Driver == "postgres" {
		return "postgres", c.Store.DSN.Reveal()
	}
	return "sqlite", c.SQLitePath()
}

// SQLitePath returns the SQLite database file.
func (c *Config) SQLitePath() string {
	if c.Store.Path != "" {
		return c.Resolve(c.Store.Path)
	}
	return c.DataPath("crier.db")
}

type validator struct {
	file     string
	lines    map[string]int // field path -> line
	problems Problems
	// fromEnv is, by line, the values as written (${VAR}) where the
	// environment was substituted: type errors there name the variable and
	// never show its value.
	fromEnv map[int]string
}

func (v *validator) add(line int, field, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// line finds the line of a field path, or of its nearest parent.
func (v *validator) line(field string) int {
	for f := field; f != ""; {
		if l, ok := v.lines[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return 0
}

var envPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${VAR} and ${VAR:-default} in scalar values, before
// they are typed: a value substituted is decoded as the text it became, so
// ${SMTP_PORT:-2525} feeds a number, a boolean or a duration whatever its
// quoting (retype). An unset ${VAR} without a default is a problem; its value
// is never echoed.
func (v *validator) expand(n *yaml.Node, lookup func(string) (string, bool)) {
	if n.Kind == yaml.ScalarNode {
		if !envPattern.MatchString(n.Value) {
			return
		}
		written := n.Value
		n.Value = envPattern.ReplaceAllStringFunc(n.Value, func(m string) string {
			sub := envPattern.FindStringSubmatch(m)
			if val, ok := lookup(sub[1]); ok && val != "" {
				return val
			}
			if sub[2] != "" {
				return sub[3]
			}
			v.add(n.Line, "", "environment variable %s is not set (write ${%s:-} to make it optional)", sub[1], sub[1])
			return ""
		})
		retype(n)
		v.noteFromEnv(n.Line, written)
		return
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue // keys are not expanded
		}
		v.expand(c, lookup)
	}
}

// retype lets YAML type a substituted scalar by its new text (a number, a
// boolean, text), as if written plain there. Text fields still get the text
// as given ("007" stays "007"). An empty or null-looking result stays text,
// as before, so that ${VAR:-} is an empty string and not "no value"; an
// explicit tag (!!str ${VAR}) is kept.
func retype(n *yaml.Node) {
	if n.Style&yaml.TaggedStyle != 0 {
		return
	}
	switch n.Value {
	case "", "~", "null", "Null", "NULL":
		n.Tag, n.Style = "!!str", 0
		return
	}
	n.Tag, n.Style = "", 0
}

// noteFromEnv records that the value at line came from the environment.
func (v *validator) noteFromEnv(line int, written string) {
	if v.fromEnv == nil {
		v.fromEnv = map[int]string{}
	}
	if prev, ok := v.fromEnv[line]; ok {
		written = prev + " or " + written
	}
	v.fromEnv[line] = written
}

// hideEnvValue rewrites a type error at a line whose value came from the
// environment: YAML's message quotes the value (which may be a secret put
// in the wrong field), Crier's names what was written instead.
func (v *validator) hideEnvValue(line int, msg string) string {
	written, ok := v.fromEnv[line]
	if !ok {
		return msg
	}
	if i := strings.LastIndex(msg, " into "); strings.HasPrefix(msg, "cannot unmarshal ") && i > 0 {
		return "cannot unmarshal the value of " + written + msg[i:] + "; the value is not shown"
	}
	return "the value of " + written + " does not fit here; the value is not shown"
}

var durationType = reflect.TypeOf(time.Duration(0))

// walk reports unknown keys and records where every field is.
func (v *validator) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		if _, ok := v.lines[path]; !ok {
			v.lines[path] = n.Line
		}
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		if t == reflect.TypeOf(Config{}) {
			fields["channels"] = nil // read apart, by the channel registry
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[key.Value]
			child := joinPath(path, key.Value)
			if !ok {
				hint := ""
				if s := explain.Closest(key.Value, sortedKeys(fields)); s != "" {
					hint = fmt.Sprintf(" (did you mean %q?)", s)
				}
				v.add(key.Line, child, "unknown key%s; expected one of: %s", hint, strings.Join(sortedKeys(fields), ", "))
				continue
			}
			v.lines[child] = key.Line
			v.walk(val, ft, child)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			v.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.ScalarNode && n.Tag == "!!null":
	case t.Kind() == reflect.Struct && t != durationType:
		v.add(n.Line, path, "expected a mapping of keys, found %s", kindName(n))
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	default:
		return "a single value"
	}
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var lineInMessage = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := lineInMessage.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	var n int
	fmt.Sscanf(m[1], "%d", &n)
	return n
}

var linePrefix = regexp.MustCompile(`^(yaml: )?line \d+: `)

func trimLine(msg string) string { return linePrefix.ReplaceAllString(msg, "") }

// friendlyTypeError says what was expected in words an organiser knows.
func friendlyTypeError(msg string) string {
	switch {
	case strings.Contains(msg, "time.Duration"):
		return "expected a duration such as 90s, 5m or 6h (" + msg + ")"
	case strings.Contains(msg, "into bool"):
		return "expected true or false (" + msg + ")"
	case strings.Contains(msg, "into int"), strings.Contains(msg, "into float"):
		return "expected a number (" + msg + ")"
	}
	return msg
}

// fieldAt names the deepest field that starts on a line.
func (v *validator) fieldAt(line int) string {
	best := ""
	for f, l := range v.lines {
		if l == line && len(f) > len(best) {
			best = f
		}
	}
	return best
}

// checkMatrixNotify checks console.notify.matrix: all three keys or none,
// an http(s) homeserver, a room ID or alias, and a token that comes from
// the environment (a token written in the file ends up in backups and
// version control).
func (v *validator) checkMatrixNotify(m MatrixNotify) {
	if !m.Configured() {
		return
	}
	const key = "console.notify.matrix"
	if u, err := url.Parse(m.Homeserver); err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
		v.add(v.line(key+".homeserver"), key+".homeserver", "must be the address of the posting account's homeserver, e.g. https://matrix.example.org")
	}
	if len(m.Room) < 4 || m.Room[0] != '!' && m.Room[0] != '#' || !strings.Contains(m.Room, ":") {
		v.add(v.line(key+".room"), key+".room", "must be the room's ID (!abc123:example.org, in the room's settings, Advanced) or its alias (#organisers:example.org)")
	}
	line := v.line(key + ".access_token")
	switch _, fromEnv := v.fromEnv[line]; {
	case !m.AccessToken.IsSet():
		v.add(line, key+".access_token", "is empty: set it to ${ORGANISERS_MATRIX_TOKEN} and put the posting account's access token in that variable (Element: Settings, Help & About, Access Token)")
	case !fromEnv:
		v.add(line, key+".access_token", "must come from the environment, not be written in the file: access_token: ${ORGANISERS_MATRIX_TOKEN}")
	}
}

// checkColours checks that each of campaign.colours is a colour as the title
// card reads it (titlecard.ParseColour), naming the field and its line.
func (v *validator) checkColours(c Colours) {
	for _, f := range []struct{ name, value string }{{"background", c.Background}, {"text", c.Text}, {"accent", c.Accent}} {
		if _, err := titlecard.ParseColour(f.value); err != nil {
			field := "campaign.colours." + f.name
			v.add(v.line(field), field, "must be a colour written #rrggbb, such as #1d3557 (got %q)", f.value)
		}
	}
}

// Shortest tokens accepted: the admin token opens supporters' personal
// data, the metrics token only counts.
const (
	minAdminToken   = 32
	minMetricsToken = 16
)

// check validates meaning once the shape is right.
func (v *validator) check(c *Config) {
	switch c.Log.Format {
	case "text", "json":
	default:
		v.add(v.line("log.format"), "log.format", "must be text or json")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add(v.line("log.level"), "log.level", "must be debug, info, warn or error")
	}
	switch c.Store.Driver {
	case "sqlite":
		// store.dsn is left unused: the shipped config names
		// ${DATABASE_URL:-} whatever the driver.
	case "postgres":
		if !c.Store.DSN.IsSet() {
			v.add(v.line("store.driver"), "store.dsn", "is empty: driver postgres needs a connection string, e.g. dsn: ${DATABASE_URL} with DATABASE_URL=postgres://crier:PASSWORD@db:5432/crier?sslmode=verify-full")
		}
	default:
		v.add(v.line("store.driver"), "store.driver", "must be sqlite (embedded, one process) or postgres (several replicas)")
	}
	if p := c.Campaign.PrivacyPolicy; p != "" && !strings.HasPrefix(p, "https://") && !strings.HasPrefix(p, "http://") {
		v.add(v.line("campaign.privacy_policy"), "campaign.privacy_policy", "must be the address of your privacy policy, starting with https://")
	}
	v.checkColours(c.Campaign.Colours)
	if c.HTTP.PublicURL != "" && !strings.HasPrefix(c.HTTP.PublicURL, "http://") && !strings.HasPrefix(c.HTTP.PublicURL, "https://") {
		v.add(v.line("http.public_url"), "http.public_url", "must start with http:// or https://")
	}
	if w := c.Console.Notify.DiscordWebhook.Reveal(); w != "" && !strings.HasPrefix(w, "https://") && !strings.HasPrefix(w, "http://") {
		v.add(v.line("console.notify.discord_webhook"), "console.notify.discord_webhook", "must be a Discord webhook address starting with https:// (channel settings, Integrations, Webhooks, Copy Webhook URL)")
	}
	v.checkMatrixNotify(c.Console.Notify.Matrix)
	// The admin token opens every supporter's personal data; failed
	// attempts are throttled, but a short token is still guessable.
	if t := c.HTTP.AdminToken; t.IsSet() && len(t.Reveal()) < minAdminToken {
		v.add(v.line("http.admin_token"), "http.admin_token", "must be at least %d characters (e.g. `openssl rand -hex 32`), or empty to turn the admin API off", minAdminToken)
	}
	if t := c.HTTP.MetricsToken; t.IsSet() && len(t.Reveal()) < minMetricsToken {
		v.add(v.line("http.metrics_token"), "http.metrics_token", "must be at least %d characters (e.g. `openssl rand -hex 16`), or empty to leave /metrics open", minMetricsToken)
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			field := fmt.Sprintf("http.trusted_proxies[%d]", i)
			v.add(v.line(field), field, "must be an IP address or a CIDR prefix such as 10.0.0.0/8")
		}
	}
	for i, n := range c.Fetch.AllowNetworks {
		if _, err := contentfetch.ParseAllow([]string{n}); err != nil {
			field := fmt.Sprintf("fetch.allow_networks[%d]", i)
			v.add(v.line(field), field, "%v", err)
		}
	}
	if c.Fetch.Timeout < 0 {
		v.add(v.line("fetch.timeout"), "fetch.timeout", "must not be negative")
	}
	v.timezone(c)
	v.schedule("schedules.publish_due", c.Schedules.PublishDue, true)
	v.schedule("schedules.digest", c.Schedules.Digest, false)
	if c.Schedules.MaxLateness < 0 {
		v.add(v.line("schedules.max_lateness"), "schedules.max_lateness", "must not be negative")
	}
	if c.Delivery.Timeout <= 0 {
		v.add(v.line("delivery.timeout"), "delivery.timeout", "must be a positive duration such as 2m")
	}
	if c.Delivery.MaxAttempts < 1 {
		v.add(v.line("delivery.max_attempts"), "delivery.max_attempts", "must be at least 1")
	}
	if c.Delivery.Workers < 1 {
		v.add(v.line("delivery.workers"), "delivery.workers", "must be at least 1")
	}
	v.checkReach(c.Reach)
	names := map[string]bool{}
	for i, f := range c.Sources.Feeds {
		p := fmt.Sprintf("sources.feeds[%d]", i)
		switch {
		case f.Name == "":
			v.add(v.line(p), p+".name", "every feed needs a name (it identifies the feed's items in the store)")
		case names[f.Name]:
			v.add(v.line(p+".name"), p+".name", "duplicate feed name %q", f.Name)
		}
		names[f.Name] = true
		if f.URL == "" {
			v.add(v.line(p), p+".url", "every feed needs a url (http(s) or a local file)")
		}
		v.schedule(p+".schedule", f.Schedule, true)
		if f.PublishNewest < 0 {
			v.add(v.line(p+".publish_newest"), p+".publish_newest", "must be 0 or more")
		}
		switch f.OnEdit {
		case "", "ignore", "update":
		default:
			v.add(v.line(p+".on_edit"), p+".on_edit", "must be ignore or update")
		}
		switch f.Corrections {
		case "", CorrectionsAsk, CorrectionsAuto:
			if f.Corrections == CorrectionsAuto && f.OnEdit == "update" {
				v.add(v.line(p+".corrections"), p+".corrections", "auto corrects the published item in place; on_edit: update would also publish an update note: choose one")
			}
		default:
			v.add(v.line(p+".corrections"), p+".corrections", "must be ask (mark the item changed for an organiser to correct) or auto (correct it everywhere at once)")
		}
	}
}

// timezone loads campaign.timezone from the embedded database.
func (v *validator) timezone(c *Config) {
	name := strings.TrimSpace(c.Campaign.Timezone)
	if name == "" {
		return
	}
	// time.LoadLocation also reads "Local" and paths; only IANA names mean
	// the same on every machine.
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" || strings.HasPrefix(name, "/") {
		v.add(v.line("campaign.timezone"), "campaign.timezone", "unknown time zone %q: expected an IANA name such as Europe/London, Europe/Paris, America/New_York or UTC", name)
		return
	}
	c.loc = loc
}

func (v *validator) schedule(field, spec string, required bool) {
	if spec == "" && !required {
		return
	}
	if _, err := schedules.Parse(spec); err != nil {
		v.add(v.line(field), field, "%v", err)
	}
}

// checkReach checks the reach: section: a schedule of increasing positive
// times (a read after 0 would read before anyone saw the post), replies
// kept for a positive time, at least one read per hour.
func (v *validator) checkReach(r Reach) {
	if len(r.Schedule) == 0 {
		v.add(v.line("reach.schedule"), "reach.schedule", "must list at least one time after a delivery, such as [1h, 6h, 24h, 72h, 168h]")
	}
	if len(r.Schedule) > 20 {
		v.add(v.line("reach.schedule"), "reach.schedule", "lists %d reads; at most 20 are allowed (each is a request to every network)", len(r.Schedule))
	}
	for i, d := range r.Schedule {
		p := fmt.Sprintf("reach.schedule[%d]", i)
		switch {
		case d <= 0:
			v.add(v.line(p), p, "must be a positive duration such as 1h")
		case i > 0 && d <= r.Schedule[i-1]:
			v.add(v.line(p), p, "must come after the one before it (%s): the schedule is in increasing order", r.Schedule[i-1])
		}
	}
	if r.KeepReplies <= 0 {
		v.add(v.line("reach.keep_replies"), "reach.keep_replies", "must be a positive duration such as 720h (30 days)")
	}
	if r.ReadsPerHour < 1 {
		v.add(v.line("reach.reads_per_hour"), "reach.reads_per_hour", "must be at least 1")
	}
	if r.MaxReplies < 1 || r.MaxReplies > 200 {
		v.add(v.line("reach.max_replies"), "reach.max_replies", "must be between 1 and 200")
	}
}
