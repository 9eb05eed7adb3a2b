package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/post"
)

// Discord error codes the sender acts on.
const (
	codeAlreadyCrossposted = 40033
)

// Ledger part indexes of a delivery.
const (
	partMessage   = 0 // the message is posted; RemoteID is its id
	partCrosspost = 1 // the message is published to following servers
)

// maxInlineWait is the longest rate-limit wait the sender sleeps through
// itself; longer waits go back to the delivery engine as RateLimited, so a
// worker is never held.
const maxInlineWait = time.Second

// Sender posts messages through a bot (bot mode) or a webhook.
type Sender struct {
	cfg     Config
	session *discordgo.Session
	api     string // https://discord.com/api/v10/
	log     *slog.Logger
	content *contentfetch.Client // fetches images from content URLs

	// Webhook mode: where to post (with ?wait=true), never logged.
	webhookURL string
	webhookID  string

	now func() time.Time

	mu      sync.Mutex
	channel *discordgo.Channel // read once (type, guild)
	me      string             // the bot's user id, read once
	// globalUntil is when a global rate limit ends: discordgo only learns
	// of one from headers Discord does not always send.
	globalUntil time.Time
}

// New returns the formatter and the real sender: bot mode when Token and
// ChannelID are set, else webhook mode when WebhookURL is. env.HTTPClient
// carries every request. Nothing is sent until the first Send.
func New(ctx context.Context, cfg Config, env channels.Env) (channels.Formatter, channels.Sender, error) {
	s, err := newSender(cfg, env)
	if err != nil {
		return nil, nil, err
	}
	return NewFormatter(cfg, env.Campaign), s, nil
}

var webhookPath = regexp.MustCompile(`^/api(?:/v\d+)?/webhooks/(\d{17,20})/([A-Za-z0-9_.-]+)/?$`)

func newSender(cfg Config, env channels.Env) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("discord config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("discord: token and channel_id (bot) or webhook_url are needed to send (set the environment variable, or use mode: outbox)")
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sender{cfg: cfg, api: discordgo.EndpointDiscord + "api/v10/", log: log, content: env.ContentClient(), now: time.Now}
	token := ""
	if cfg.Token.IsSet() && cfg.ChannelID != "" {
		token = "Bot " + cfg.Token.Reveal()
	} else {
		u, err := url.Parse(cfg.WebhookURL.Reveal())
		if err != nil {
			return nil, errors.New("discord: webhook_url is not a URL")
		}
		m := webhookPath.FindStringSubmatch(u.Path)
		if m == nil {
			return nil, errors.New("discord: webhook_url must look like https://discord.com/api/webhooks/<id>/<token>")
		}
		s.webhookID = m[1]
		s.webhookURL = u.Scheme + "://" + u.Host + "/api/v10/webhooks/" + m[1] + "/" + m[2] + "?wait=true"
	}
	// discordgo.New only fills in the session; it contacts nobody.
	session, err := discordgo.New(token)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	_, session.Client = httpcall.Client(env.HTTPClient, nil)
	session.UserAgent = "DiscordBot (https://github.com/crierhq/crier, 1)"
	session.ShouldRetryOnRateLimit = false
	session.MaxRestRetries = 0
	session.StateEnabled = false
	s.session = session
	return s, nil
}

// Send posts the message once, records it in the ledger as soon as Discord
// answers, and crossposts it when the channel is an announcement channel.
// A retry after an unknown outcome looks for the message before sending.
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	msg, err := channels.BodyOf[Message](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	if len(msg.Embeds) == 0 && msg.Content == "" {
		return channels.Receipt{}, channels.Permanent(errors.New("discord payload has neither content nor embeds"))
	}
	ledger, parts, err := channels.LedgerParts(ctx, d)
	if err != nil {
		return channels.Receipt{}, err
	}
	if s.webhookURL != "" {
		return s.sendWebhook(ctx, d, msg, ledger, parts)
	}
	return s.sendBot(ctx, d, msg, ledger, parts)
}

func (s *Sender) sendBot(ctx context.Context, d channels.Delivery, msg Message, ledger channels.Ledger, parts map[int]channels.Part) (channels.Receipt, error) {
	ch, err := s.channelInfo(ctx)
	if err != nil {
		return channels.Receipt{}, err
	}
	var receipt channels.Receipt
	if part, ok := parts[partMessage]; ok {
		receipt = channels.Receipt{RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}
	} else {
		var found *discordgo.Message
		if d.PreviousUnknown {
			if found, err = s.findSent(ctx, msg); err != nil {
				return receipt, err
			}
			if found != nil {
				s.log.Info("discord: message already posted by an earlier attempt", "post", d.PostID, "id", found.ID)
			}
		}
		if found == nil {
			msg.Nonce = Nonce(d.IdempotencyKey(partMessage))
			msg.EnforceNonce = true
			wire, files, notes := s.prepareFiles(ctx, d, msg)
			receipt.Notes = notes
			body, err := s.requestFiles(ctx, http.MethodPost, s.api+"channels/"+s.cfg.ChannelID+"/messages", "channels/"+s.cfg.ChannelID+"/messages", wire, files, true, "posting the message")
			if err != nil {
				return receipt, err
			}
			found = &discordgo.Message{}
			if err := json.Unmarshal(body, found); err != nil || found.ID == "" {
				return receipt, channels.Ambiguous(fmt.Errorf("posting the message: Discord's answer has no message id: %v", err))
			}
		}
		part := channels.Part{Index: partMessage, RemoteID: found.ID, RemoteURL: jumpURL(ch.GuildID, s.cfg.ChannelID, found.ID)}
		if err := ledger.SavePart(ctx, part); err != nil {
			// Posted but not recorded: the next attempt must look first.
			return receipt, channels.Ambiguous(fmt.Errorf("recording message %s: %w", found.ID, err))
		}
		receipt.RemoteID, receipt.RemoteURL = part.RemoteID, part.RemoteURL
	}

	if !s.cfg.Crosspost || ch.Type != discordgo.ChannelTypeGuildNews {
		return receipt, nil
	}
	if _, ok := parts[partCrosspost]; ok {
		return receipt, nil
	}
	_, err = s.request(ctx, http.MethodPost, s.api+"channels/"+s.cfg.ChannelID+"/messages/"+receipt.RemoteID+"/crosspost", "channels/"+s.cfg.ChannelID+"/crosspost", nil, false, "crossposting the message to following servers")
	if err != nil && discordCode(err) != codeAlreadyCrossposted {
		return receipt, err
	}
	if err := ledger.SavePart(ctx, channels.Part{Index: partCrosspost, RemoteID: receipt.RemoteID, RemoteURL: receipt.RemoteURL}); err != nil {
		// Crossposting again only meets 40033, which counts as done.
		return receipt, channels.Temporary(fmt.Errorf("recording the crosspost of message %s: %w", receipt.RemoteID, err))
	}
	return receipt, nil
}

func (s *Sender) sendWebhook(ctx context.Context, d channels.Delivery, msg Message, ledger channels.Ledger, parts map[int]channels.Part) (channels.Receipt, error) {
	if part, ok := parts[partMessage]; ok {
		return channels.Receipt{RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}, nil
	}
	if d.PreviousUnknown {
		return channels.Receipt{}, channels.Permanent(errors.New("an earlier attempt may have posted this message, and a webhook cannot read the channel to check: look in the channel and send the post again only if it is missing (bot mode checks by itself)"))
	}
	msg.Nonce, msg.EnforceNonce = "", false // the webhook route has no nonce
	wire, files, notes := s.prepareFiles(ctx, d, msg)
	body, err := s.requestFiles(ctx, http.MethodPost, s.webhookURL, "webhooks/"+s.webhookID, wire, files, true, "executing the webhook")
	if err != nil {
		return channels.Receipt{}, err
	}
	var m discordgo.Message
	if err := json.Unmarshal(body, &m); err != nil || m.ID == "" {
		return channels.Receipt{}, channels.Ambiguous(fmt.Errorf("executing the webhook: Discord's answer has no message id: %v", err))
	}
	part := channels.Part{Index: partMessage, RemoteID: m.ID}
	if m.GuildID != "" {
		part.RemoteURL = jumpURL(m.GuildID, m.ChannelID, m.ID)
	}
	if err := ledger.SavePart(ctx, part); err != nil {
		return channels.Receipt{}, channels.Ambiguous(fmt.Errorf("recording message %s: %w", m.ID, err))
	}
	return channels.Receipt{RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Notes: notes}, nil
}

// channelInfo reads the channel once: its type says whether to crosspost,
// its guild makes the message's link, and a 403/404 here fails early.
func (s *Sender) channelInfo(ctx context.Context) (*discordgo.Channel, error) {
	s.mu.Lock()
	ch := s.channel
	s.mu.Unlock()
	if ch != nil {
		return ch, nil
	}
	body, err := s.request(ctx, http.MethodGet, s.api+"channels/"+s.cfg.ChannelID, "channels/"+s.cfg.ChannelID, nil, false, "reading the channel")
	if err != nil {
		return nil, err
	}
	ch = &discordgo.Channel{}
	if err := json.Unmarshal(body, ch); err != nil {
		return nil, channels.Temporary(fmt.Errorf("reading the channel: %w", err))
	}
	if s.cfg.Crosspost && ch.Type != discordgo.ChannelTypeGuildNews {
		s.log.Info("discord: crosspost is set but the channel is not an announcement channel; messages are not crossposted", "channel", s.cfg.ChannelID)
	}
	s.mu.Lock()
	s.channel = ch
	s.mu.Unlock()
	return ch, nil
}

// findSent looks through the channel's latest messages for one the bot
// posted with the same embed.
func (s *Sender) findSent(ctx context.Context, msg Message) (*discordgo.Message, error) {
	s.mu.Lock()
	me := s.me
	s.mu.Unlock()
	if me == "" {
		body, err := s.request(ctx, http.MethodGet, s.api+"users/@me", "users/@me", nil, false, "checking for a message an earlier attempt posted: reading the bot's user")
		if err != nil {
			return nil, err
		}
		var u discordgo.User
		if err := json.Unmarshal(body, &u); err != nil || u.ID == "" {
			return nil, channels.Temporary(fmt.Errorf("reading the bot's user: %v", err))
		}
		me = u.ID
		s.mu.Lock()
		s.me = me
		s.mu.Unlock()
	}
	body, err := s.request(ctx, http.MethodGet, s.api+"channels/"+s.cfg.ChannelID+"/messages?limit=50", "channels/"+s.cfg.ChannelID+"/messages/list", nil, false, "checking for a message an earlier attempt posted")
	if err != nil {
		return nil, err
	}
	var recent []*discordgo.Message
	if err := json.Unmarshal(body, &recent); err != nil {
		return nil, channels.Temporary(fmt.Errorf("checking for a message an earlier attempt posted: %w", err))
	}
	for _, m := range recent {
		if m.Author == nil || m.Author.ID != me {
			continue
		}
		if sameEmbed(m, msg) {
			return m, nil
		}
	}
	return nil, nil
}

// sameEmbed reports whether a posted message shows msg's embed: the same
// link and title (and description when there is no link), the same content.
func sameEmbed(m *discordgo.Message, msg Message) bool {
	if len(m.Embeds) == 0 || len(msg.Embeds) == 0 || m.Content != msg.Content {
		return false
	}
	got, want := m.Embeds[0], msg.Embeds[0]
	if got.URL != want.URL || got.Title != want.Title {
		return false
	}
	return want.URL != "" || got.Description == want.Description
}

func jumpURL(guild, channel, message string) string {
	if guild == "" {
		guild = "@me"
	}
	return "https://discord.com/channels/" + guild + "/" + channel + "/" + message
}

// request makes one REST call through discordgo, never sleeping past ctx:
// a bucket that is empty for longer than maxInlineWait, or a 429, comes
// back as RateLimited. create marks the call that posts the message, whose
// unknown outcome is Ambiguous.
func (s *Sender) request(ctx context.Context, method, urlStr, bucketID string, data any, create bool, what string) ([]byte, error) {
	return s.requestFiles(ctx, method, urlStr, bucketID, data, nil, create, what)
}

// requestFiles is request with files: the body is then multipart, the JSON
// in its payload_json part and each file in a files[n] part.
func (s *Sender) requestFiles(ctx context.Context, method, urlStr, bucketID string, data any, files []*discordgo.File, create bool, what string) ([]byte, error) {
	s.mu.Lock()
	global := s.globalUntil.Sub(s.now())
	s.mu.Unlock()
	if global > 0 {
		return nil, channels.RateLimited(fmt.Errorf("%s: the bot is under Discord's global rate limit; retry in %s", what, global.Round(time.Millisecond)), global)
	}
	var body []byte
	contentType := "application/json"
	if data != nil {
		var err error
		if len(files) > 0 {
			contentType, body, err = discordgo.MultipartBodyWithJSON(data, files)
		} else {
			body, err = discordgo.Marshal(data)
		}
		if err != nil {
			return nil, channels.Permanent(fmt.Errorf("%s: encoding the request: %w", what, err))
		}
	}
	// Take the route's bucket ourselves: discordgo's own locking sleeps out
	// an empty bucket with no regard for the context, which could hold a
	// worker far past its deadline.
	b := s.session.Ratelimiter.GetBucket(bucketID)
	for !b.TryLock() {
		select {
		case <-ctx.Done():
			return nil, channels.Temporary(fmt.Errorf("%s: waiting for another request on this route: %w", what, ctx.Err()))
		case <-time.After(5 * time.Millisecond):
		}
	}
	wait := s.session.Ratelimiter.GetWaitTime(b, 1)
	if wait > maxInlineWait {
		b.Unlock()
		return nil, channels.RateLimited(fmt.Errorf("%s: Discord's rate limit for this route is used up; retry in %s", what, wait.Round(time.Millisecond)), wait)
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			b.Unlock()
			return nil, channels.Temporary(fmt.Errorf("%s: waiting for Discord's rate limit: %w", what, ctx.Err()))
		case <-t.C:
		}
	}
	b.Remaining--
	callCtx, c := httpcall.With(ctx)
	// RequestWithLockedBucket releases the bucket with the answer's headers.
	body, err := s.session.RequestWithLockedBucket(method, urlStr, contentType, body, b, 0,
		discordgo.WithContext(callCtx), discordgo.WithRetryOnRatelimit(false), discordgo.WithRestRetries(0))
	if err != nil {
		return nil, s.classify(what, err, c, create)
	}
	return body, nil
}

// apiError is a Discord error answer, without the request (whose URL may
// hold the webhook token).
type apiError struct {
	Status  int
	Code    int
	Message string
}

func (e *apiError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("Discord answered %d %s: %s (code %d)", e.Status, http.StatusText(e.Status), e.Message, e.Code)
	}
	if e.Message != "" {
		return fmt.Sprintf("Discord answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	}
	return fmt.Sprintf("Discord answered %d %s", e.Status, http.StatusText(e.Status))
}

func discordCode(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// classify turns a discordgo error into a classified error that says what
// was being done and never holds the webhook URL.
func (s *Sender) classify(what string, err error, c *httpcall.Call, create bool) error {
	status, headers := c.Answer()
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) || status == http.StatusTooManyRequests {
		wait := time.Duration(0)
		global := headers.Get("X-RateLimit-Global") != ""
		if rl != nil && rl.TooManyRequests != nil {
			wait = rl.RetryAfter
		}
		if wait <= 0 {
			wait = retryAfterHeader(headers)
		}
		scope := "this route's"
		if global {
			scope = "the bot's global"
			s.mu.Lock()
			s.globalUntil = s.now().Add(wait)
			s.mu.Unlock()
		}
		return channels.RateLimited(fmt.Errorf("%s: Discord refused it under %s rate limit (429); retry in %s", what, scope, wait.Round(time.Millisecond)), max(wait, 100*time.Millisecond))
	}
	var rest *discordgo.RESTError
	if errors.As(err, &rest) && rest.Response != nil {
		e := &apiError{Status: rest.Response.StatusCode}
		if rest.Message != nil {
			e.Code, e.Message = rest.Message.Code, rest.Message.Message
		}
		return s.classifyStatus(what, e, create)
	}
	if status >= 400 {
		return s.classifyStatus(what, &apiError{Status: status}, create)
	}
	if status >= 200 && status < 300 {
		// Discord answered but the answer could not be read (discordgo
		// failed on its headers or body): the message may exist.
		if create {
			return channels.Ambiguous(fmt.Errorf("%s: reading Discord's answer: %s", what, s.redact(err)))
		}
		return channels.Temporary(fmt.Errorf("%s: reading Discord's answer: %s", what, s.redact(err)))
	}
	wrapped := fmt.Errorf("%s: %w", what, redactedError{msg: s.redact(err), err: err})
	return httpcall.Failed(wrapped, c, create)
}

func (s *Sender) classifyStatus(what string, e *apiError, create bool) error {
	target := "channel " + s.cfg.ChannelID
	if s.webhookURL != "" {
		target = "webhook " + s.webhookID
	}
	switch {
	case e.Status == http.StatusUnauthorized && s.webhookURL != "":
		return channels.Refused(fmt.Errorf("%s: Discord refused the webhook token (%w): check discord.webhook_url", what, e))
	case e.Status == http.StatusUnauthorized:
		return channels.Refused(fmt.Errorf("%s: Discord refused the bot token (%w): check discord.token", what, e))
	case e.Status == http.StatusForbidden:
		return channels.Refused(fmt.Errorf("%s: the bot may not do this in %s (%w): give it View Channel, Send Messages, Embed Links and Read Message History there", what, target, e))
	case e.Status == http.StatusNotFound:
		return channels.Permanent(fmt.Errorf("%s: %s does not exist or the bot cannot see it (%w): check the discord section of the config", what, target, e))
	case e.Status == http.StatusRequestTimeout || e.Status == http.StatusConflict:
		return channels.Temporary(fmt.Errorf("%s: %w", what, e))
	case e.Status >= 400 && e.Status < 500:
		return channels.Permanent(fmt.Errorf("%s: %w", what, e))
	case e.Status >= 500 && create:
		// A gateway error may come after Discord stored the message.
		return channels.Ambiguous(fmt.Errorf("%s: %w", what, e))
	default:
		return channels.Temporary(fmt.Errorf("%s: %w", what, e))
	}
}

// redactedError keeps err's chain (deadline, net errors) but prints a
// message with the webhook URL taken out.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

func (s *Sender) redact(err error) string {
	msg := err.Error()
	if s.webhookURL == "" {
		return msg
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Op + " webhook " + s.webhookID + ": " + ue.Err.Error()
	}
	if u, perr := url.Parse(s.webhookURL); perr == nil {
		if m := webhookPath.FindStringSubmatch(u.Path); m != nil {
			msg = strings.ReplaceAll(msg, m[2], "[redacted]")
		}
	}
	return msg
}

func retryAfterHeader(h http.Header) time.Duration {
	if h == nil {
		return time.Second
	}
	if v, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset-After"), 64); err == nil && v > 0 {
		return time.Duration(v * float64(time.Second))
	}
	if v, err := strconv.ParseFloat(h.Get("Retry-After"), 64); err == nil && v > 0 {
		return time.Duration(math.Ceil(v)) * time.Second
	}
	return time.Second
}

// prepareFiles reads the files of msg's attachments (a local file, or a
// content URL through the guarded client) and returns the message as it
// goes on the wire with the files to upload. An image that cannot be had
// is left out, its embed reference with it, and a note says why: it never
// stops the message.
func (s *Sender) prepareFiles(ctx context.Context, d channels.Delivery, msg Message) (Message, []*discordgo.File, []string) {
	wire := msg
	wire.Uploads, wire.Attachments = nil, nil
	if len(msg.Embeds) > 0 {
		wire.Embeds = append([]Embed(nil), msg.Embeds...)
	}
	var files []*discordgo.File
	var notes []string
	for i, att := range msg.Attachments {
		if i >= len(msg.Uploads) {
			break
		}
		up := msg.Uploads[i]
		data, ct, err := s.readUpload(ctx, up)
		ref := "attachment://" + att.Filename
		if err != nil {
			note := fmt.Sprintf("image left out: %s: %v", imageRef(&post.Image{File: up.File, URL: up.URL}), err)
			s.log.Warn("discord: posting without the image", "post", d.PostID, "reason", note)
			notes = append(notes, note)
			for j := range wire.Embeds {
				if wire.Embeds[j].Image != nil && wire.Embeds[j].Image.URL == ref {
					wire.Embeds[j].Image = nil
				}
			}
			continue
		}
		// The file's real type decides its extension: Discord shows a
		// picture inline only when its name says it is one.
		name := withExt(att.Filename, ct)
		for j := range wire.Embeds {
			if img := wire.Embeds[j].Image; img != nil && img.URL == ref {
				c := *img
				c.URL = "attachment://" + name
				wire.Embeds[j].Image = &c
			}
		}
		att.ID = strconv.Itoa(len(files))
		att.Filename = name
		wire.Attachments = append(wire.Attachments, att)
		files = append(files, &discordgo.File{Name: name, ContentType: ct, Reader: bytes.NewReader(data)})
	}
	return wire, files, notes
}

// readUpload reads one attachment's picture, at most maxUpload bytes.
func (s *Sender) readUpload(ctx context.Context, up Upload) ([]byte, string, error) {
	if up.File != "" {
		return channels.ReadImageFile(up.File, maxUpload)
	}
	res, err := s.content.Image(ctx, up.URL)
	if err != nil {
		var fe *contentfetch.Error
		if errors.As(err, &fe) {
			return nil, "", fe.Err
		}
		return nil, "", err
	}
	if len(res.Data) > maxUpload {
		return nil, "", fmt.Errorf("it is over Discord's upload limit of %d MB", maxUpload>>20)
	}
	return res.Data, res.ContentType, nil
}

// withExt gives name the usual extension of a picture type when it has
// none or another one.
func withExt(name, contentType string) string {
	exts := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/avif": ".avif", "image/bmp": ".bmp"}
	want, ok := exts[contentType]
	if !ok {
		return name
	}
	ext := strings.ToLower(path.Ext(name))
	if ext == want || ext == ".jpeg" && want == ".jpg" {
		return name
	}
	if plainExt.MatchString(ext) {
		name = strings.TrimSuffix(name, path.Ext(name))
	}
	return name + want
}
