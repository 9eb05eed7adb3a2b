package console

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The Setup page is the owner's checklist of what to change in Crier's
// configuration: what is wrong, what it costs, and which file and key fix
// it. Setup problems are said there only, not to authors and editors in
// the previews of their posts, who cannot change them.

func init() {
	pageNames = append(pageNames, "setup")
	routePatterns = append(routePatterns, "/setup")
}

// setupItem is one line of the checklist.
type setupItem struct {
	Title string
	// Done: nothing to change; the line says how it is set.
	Done bool
	// What is wrong and what it costs, in plain words.
	What string
	// Fix says what to change, Where names the file and key.
	Fix, Where string
	// Link is the console page that fixes it, named LinkText.
	Link, LinkText string
}

// setupItems checks what the console can see of Crier's configuration.
func (c *Console) setupItems(ctx context.Context) []setupItem {
	items := []setupItem{c.publicURLItem()}
	names := slices.Clone(c.opts.Publisher.ChannelNames())
	slices.Sort(names)
	outbox := c.outboxNow(ctx)
	for _, n := range names {
		why, local := outbox[n]
		if !local {
			items = append(items, setupItem{Title: n, Done: true, What: "Connected: posts are sent."})
			continue
		}
		if why == "" {
			why = "no account connected"
		}
		it := setupItem{Title: n,
			What:  "Posts to " + n + " are only saved to the outbox on this machine (" + why + "), not sent to anyone.",
			Fix:   "Connect the account (the channel's page in docs/ says how), then restart Crier.",
			Where: "config.yaml, channels." + n + " (its secrets in the environment)",
		}
		if c.opts.Accounts != nil && !strings.HasPrefix(why, "mode: outbox") {
			// The owner connects it in the console: no file, no restart.
			it.Fix, it.Where = "Connect the account on the Channels page: it takes effect at once, without a restart.", ""
			it.Link, it.LinkText = "/channels#channel-"+url.PathEscape(n), "Connect "+n+" on the Channels page"
		}
		items = append(items, it)
	}
	items = append(items, c.chatItems()...)
	items = append(items, setupItem{Title: "Long posts", Done: true,
		What:  "A post longer than a channel's limit is shortened on Mastodon and Bluesky, with a link to read the rest.",
		Fix:   "To send a thread instead, turn threads on for that channel.",
		Where: "config.yaml, channels.<name>.thread: true (e.g. channels.bluesky.thread)"})
	return items
}

// setupChats are the organisers' chats Crier can post notices to, and how
// each is set up.
var setupChats = []struct{ Name, Title, Fix, Where string }{
	{"discord", "Discord notices",
		"To post notices to an organisers' Discord channel, make a webhook for it (channel settings, Integrations, Webhooks) and put its address in the environment.",
		"config.yaml, console.notify.discord_webhook: ${ORGANISERS_DISCORD_WEBHOOK}"},
	{"matrix", "Matrix notices",
		"To post notices to an organisers' Matrix room, make a Matrix account for Crier, invite it to the room (a public room it joins by itself), and put the account's access token in the environment.",
		"config.yaml, console.notify.matrix: homeserver, room (its ID or alias) and access_token: ${ORGANISERS_MATRIX_TOKEN}"},
}

// chatItems say whether notices go to each organisers' chat, and how to
// set one up; a chat is optional, so either way nothing is to change.
func (c *Console) chatItems() []setupItem {
	var items []setupItem
	for _, sc := range setupChats {
		it := setupItem{Title: sc.Title, Done: true, Fix: sc.Fix, Where: sc.Where,
			What: "Not set up: notices are not posted there."}
		for _, ch := range c.opts.Chats {
			if ch.Name == sc.Name {
				it.What = "Notices are posted to " + ch.Label
				if ch.Where != "" {
					it.What += ", " + ch.Where
				}
				it.What += ", as each person chooses on Notifications."
				it.Fix = ""
			}
		}
		items = append(items, it)
	}
	return items
}

// publicURLItem checks http.public_url, which every link, image and
// unsubscribe address is built from.
func (c *Console) publicURLItem() setupItem {
	it := setupItem{Title: "Public address", Where: "config.yaml, http.public_url",
		Fix: "Set it to the https address people reach Crier at, e.g. https://crier.example.org."}
	u, err := url.Parse(c.opts.PublicURL)
	switch {
	case c.opts.PublicURL == "" || err != nil || u.Host == "":
		it.What = "It is not set: newsletters cannot carry working unsubscribe links, so they are not sent, and images in posts have no address."
	case internalHost(u.Hostname()):
		it.What = c.opts.PublicURL + " is an address inside this machine or network: Mastodon, Discord, Bluesky and mail readers cannot fetch images or links from it."
	case u.Scheme != "https":
		it.What = c.opts.PublicURL + " is not https: mail providers such as Gmail ignore one-click unsubscribe over plain http (RFC 8058), and browsers warn on the sign-in page."
	default:
		return setupItem{Title: it.Title, Done: true, What: c.opts.PublicURL + " (https)."}
	}
	return it
}

// internalHost reports whether host is only reachable from this machine
// or its private network.
func internalHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
}

func (c *Console) setupPage(w http.ResponseWriter, r *http.Request, s Session) {
	items := c.setupItems(r.Context())
	todo := 0
	for _, it := range items {
		if !it.Done {
			todo++
		}
	}
	c.render(w, r, s, "setup", map[string]any{"Items": items, "ToDo": todo})
}

// setupWarning reports whether a channel's preview warning is about
// Crier's configuration (it names a config key) rather than the post: the
// Setup page says those.
func setupWarning(w string) bool {
	return strings.Contains(w, "http.public_url") || strings.Contains(w, "channels.") || strings.Contains(w, "config.yaml")
}
