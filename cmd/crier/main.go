// Command crier publishes a campaign's news to Mastodon, Discord and an email
// newsletter. Run `crier --help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/connections"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/imagehost"
	"github.com/crierhq/crier/internal/redact"
	"github.com/crierhq/crier/reach"
	"github.com/crierhq/crier/web/console"
)

// App is what every command gets: the config, the store, the log and the
// terminal.
type App struct {
	ConfigPath string
	Config     *config.Config
	// Registry is the channel types this binary knows (providers()).
	Registry *channels.Registry
	// Instances are the configured channels, enabled or not.
	Instances []channels.Instance
	Logger    *slog.Logger
	// LookupEnv is the environment: CRIER_CONFIG and the config's ${VAR}
	// are read from it. nil means the process's (os.LookupEnv); tests give
	// each Crier its own, so that they can run in parallel.
	LookupEnv func(key string) (string, bool)
	// Stdin is where --password-stdin reads; nil means os.Stdin.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// HTTPClient carries every outgoing request to an address the config
	// names (feeds, Mastodon, Discord, SMTP's neighbours).
	HTTPClient *http.Client
	// Content fetches addresses that came from content (images); nil means
	// the guarded client the config's fetch section describes.
	Content *contentfetch.Client
	// AllowNonPublicImageURL lets the pictures served for Instagram and
	// Threads (imagehost) live under an http or loopback http.public_url.
	// Insecure: tests only.
	AllowNonPublicImageURL bool
	// images serves those pictures; set by liveChannels.
	images *imagehost.Host
	// bounceReader reads the bounce mailbox while the daemon runs (nil
	// when no mailbox is configured).
	bounceReader *bounces.Reader
	logFormat    string
	logLevel     string
	store        *store.Store
	// helpAsked is set when the command line asks for --help: the usage
	// then goes to stdout.
	helpAsked bool
	// reach is set by daemon: what posts reached, read back.
	reach *reach.Engine
	// consoleUsers is set by daemon: the console's user store.
	consoleUsers *console.Users
	// console is set by daemon: a stop waits for its background work.
	console *console.Console
	// connections is set by daemon: the accounts connected from the
	// console, which the channels follow without a restart.
	connections *connections.Service
}

// loadConfig reads the config file and its channels, expanding ${VAR}
// from the App's environment.
func (a *App) loadConfig() (*config.Config, []channels.Instance, error) {
	data, err := os.ReadFile(a.ConfigPath)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	return a.Registry.Parse(a.ConfigPath, data, a.LookupEnv)
}

// OpenStore opens the configured store once and reuses it.
func (a *App) OpenStore(ctx context.Context) (*store.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	driver, target := a.Config.Database()
	st, err := store.OpenDriver(ctx, driver, target)
	if err != nil {
		return nil, err
	}
	a.store = st
	return st, nil
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, app *App, args []string) error
	// noConfig commands run without a valid config (validate reports on it).
	noConfig bool
}

func commands() []command {
	return []command{
		{name: "run", summary: "run the daemon: poll sources, deliver, serve pages, health and metrics", run: cmdRun},
		{name: "preview", summary: "show what every channel would receive for a post or a feed, without sending", run: cmdPreview},
		{name: "publish", summary: "queue a post file for delivery now", run: cmdPublish},
		{name: "retry", summary: "queue a post's failed deliveries again", run: cmdRetry},
		{name: "correct", summary: "correct a published post everywhere it went out", run: cmdCorrect},
		{name: "withdraw", summary: "withdraw a post: delete it everywhere, cancel what is still queued", run: cmdWithdraw},
		{name: "status", summary: "recent posts and their per-channel delivery state", run: cmdStatus},
		{name: "reach", summary: "what posts reached on each channel (replies, reposts, likes, clicks) and the replies", run: cmdReach},
		{name: "validate", summary: "check the config and the posts folder, reporting every problem", run: cmdValidate, noConfig: true},
		{name: "subscribers", summary: "import, export, list, remove and count newsletter subscribers", run: cmdSubscribers},
		{name: "users", summary: "add, list, remove console users and reset their passwords", run: cmdUsers},
		{name: "newsletter", summary: "newsletter tools: send a test copy; list, hide and unhide archived newsletters; check a bounce", run: cmdNewsletter},
		{name: "accounts", summary: "channel accounts connected from the console: list, audit trail, rotate the secrets' key", run: cmdAccounts},
		{name: "store", summary: "database tools (copy an installation to another database, e.g. SQLite to PostgreSQL)", run: cmdStore, noConfig: true},
	}
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain runs one command line; ctx ending is SIGINT/SIGTERM.
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runApp(ctx, &App{Stdout: stdout, Stderr: stderr, HTTPClient: &http.Client{Timeout: time.Minute}}, args)
}

// runApp runs a command line with a prepared App (tests give it an HTTP
// client that reaches local fakes).
func runApp(ctx context.Context, app *App, args []string) int {
	stdout, stderr := app.Stdout, app.Stderr
	if app.Registry == nil {
		app.Registry = providers()
	}
	fs := flag.NewFlagSet("crier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultConfig := "config.yaml"
	if app.LookupEnv == nil {
		app.LookupEnv = os.LookupEnv
	}
	if env, _ := app.LookupEnv("CRIER_CONFIG"); env != "" {
		defaultConfig = env
	}
	fs.StringVar(&app.ConfigPath, "config", defaultConfig, "config `file` (env CRIER_CONFIG)")
	fs.StringVar(&app.logFormat, "log-format", "", "log format: text or json (default: the config's log.format)")
	fs.StringVar(&app.logLevel, "log-level", "", "log level: debug, info, warn or error (default: the config's log.level)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	// Asked-for help goes to stdout (and exits 0); help after a mistake
	// goes to stderr.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return 0
		}
		printUsage(stderr, fs)
		return 2
	}
	if *showVersion || fs.Arg(0) == "version" {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	if fs.NArg() == 0 {
		printUsage(stderr, fs)
		return 2
	}
	switch app.logFormat {
	case "", "text", "json":
	default:
		fmt.Fprintf(stderr, "crier: --log-format %q: expected text or json\n", app.logFormat)
		return 2
	}
	switch app.logLevel {
	case "", "debug", "info", "warn", "error":
	default:
		fmt.Fprintf(stderr, "crier: --log-level %q: expected debug, info, warn or error\n", app.logLevel)
		return 2
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	if name == "help" {
		printUsage(stdout, fs)
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "crier: unknown command %q\n\n", name)
		printUsage(stderr, fs)
		return 2
	}
	app.helpAsked = wantsHelp(rest)
	if !cmd.noConfig && !app.helpAsked {
		cfg, insts, err := app.loadConfig()
		if err != nil {
			fmt.Fprintf(stderr, "crier: %v\n", err)
			return 2
		}
		app.Config, app.Instances = cfg, insts
	}
	app.Logger = newLogger(app, stderr)

	err := cmd.run(ctx, app, rest)
	if app.store != nil {
		app.store.Close()
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "crier %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "crier %s: %v\n", name, err)
		return 1
	}
}

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// without it the module version and VCS revision Go records are shown.
var version = ""

func versionString() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if !ok {
		return "crier " + v
	}
	var rev, when, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	out := "crier " + v
	if rev != "" {
		out += fmt.Sprintf(" (commit %s %s%s)", rev, when, dirty)
	}
	return out + " " + info.GoVersion
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

func newLogger(app *App, w io.Writer) *slog.Logger {
	format, level := app.logFormat, app.logLevel
	if app.Config != nil {
		if format == "" {
			format = app.Config.Log.Format
		}
		if level == "" {
			level = app.Config.Log.Level
		}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: redact.Attr}
	if app.Config != nil {
		// Log times in the campaign's zone, like every time Crier shows
		// (RFC 3339 with the offset, so still unambiguous). Subscribers are
		// logged by id; an error quoting an address (an SMTP reply, a store
		// error) has it replaced, at every level.
		loc := app.Config.Location()
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 && a.Value.Kind() == slog.KindTime {
				a.Value = slog.TimeValue(a.Value.Time().In(loc))
			}
			return redact.Attr(groups, a)
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "Usage: crier [--config FILE] [--log-format text|json] [--log-level LEVEL] COMMAND [ARGS]")
	fmt.Fprintln(w, "       crier --version")
	fmt.Fprintln(w, "\nCommands:")
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nGlobal flags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nRun `crier COMMAND --help` for a command's own flags.")
}

// newFlagSet makes a command's flag set with a usage line.
func newFlagSet(app *App, name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("crier "+name, flag.ContinueOnError)
	fs.SetOutput(app.Stderr)
	fs.Usage = func() {
		w := app.Stderr
		if app.helpAsked {
			w = app.Stdout
		}
		fmt.Fprintf(w, "Usage: crier %s %s\n\n%s\n", name, args, strings.TrimSpace(about))
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nFlags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(app.Stderr)
		}
	}
	return fs
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseArgs parses flags wherever they stand among the arguments, so that
// `crier publish POST.md --channel mastodon` works as the usage line says.
// It returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
