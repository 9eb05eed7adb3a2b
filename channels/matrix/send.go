package matrix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // the picture types whose size m.image's info gives
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/internal/matrixroom"
)

// txnKey is the content key that carries an event's transaction ID, so
// that a retry can find its event in the room once the homeserver has
// forgotten the transaction (Dendrite forgets after 30 to 60 minutes).
const txnKey = "org.crierhq.txn"

// defaultUploadLimit is Dendrite's and Synapse's default, used when the
// homeserver does not say its own (GET /_matrix/client/v1/media/config).
const defaultUploadLimit = 10 << 20

// Sender sends payloads to the instance's rooms as its account.
type Sender struct {
	cfg     Config
	api     *matrixroom.Client
	log     *slog.Logger
	content *contentfetch.Client

	mu          sync.Mutex
	rooms       map[string]string // room ID by configured room, once joined
	me          string            // the account's user ID, once asked
	uploadLimit int64
}

// NewSender returns the sender of an instance with credentials. It
// contacts nobody until the first Send.
func NewSender(cfg Config, env channels.Env) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("matrix config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("matrix: homeserver, access_token and room are needed to send (set MATRIX_HOMESERVER, MATRIX_ACCESS_TOKEN and MATRIX_ROOM, or use mode: outbox)")
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	api := &matrixroom.Client{Homeserver: cfg.Homeserver, Token: cfg.AccessToken, Setting: "channels." + cfg.instance(), HTTP: env.HTTPClient}
	return &Sender{cfg: cfg, api: api, log: log, content: env.ContentClient(), rooms: map[string]string{}}, nil
}

// Send posts each message of the payload to each room, in order, recording
// each event in the ledger the moment the homeserver names it. A part's
// transaction ID is derived from (post, instance, part), so a retry after
// a lost answer is the same event.
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	body, err := channels.BodyOf[Body](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	if len(body.Messages) == 0 {
		return channels.Receipt{}, channels.Permanent(errors.New("matrix payload has no message"))
	}
	ledger, done, err := channels.LedgerParts(ctx, d)
	if err != nil {
		return channels.Receipt{}, err
	}
	var receipt channels.Receipt
	n := len(body.Messages)
	for r, room := range s.cfg.RoomList() {
		roomID, err := s.join(ctx, room)
		if err != nil {
			return receipt, err
		}
		var root, prev string
		for i, m := range body.Messages {
			idx := r*n + i
			part, ok := done[idx]
			if !ok {
				if part, err = s.sendPart(ctx, d, roomID, idx, m, root, prev, &receipt); err != nil {
					return receipt, err
				}
				if err := ledger.SavePart(ctx, part); err != nil {
					// Sent but not recorded: the retry's PUT is the same event.
					return receipt, channels.Ambiguous(fmt.Errorf("recording event %s: %w", part.RemoteID, err))
				}
			}
			// The thread's fallback reply names the thread's latest event,
			// so a picture outside the thread is not one.
			switch _, event := splitRemote(part.RemoteID); {
			case i == 0:
				root, prev = event, event
			case m.InThread:
				prev = event
			}
			if idx == 0 {
				receipt.RemoteID, receipt.RemoteURL = part.RemoteID, part.RemoteURL
			}
		}
	}
	return receipt, nil
}

// sendPart sends message m as part idx; root and prev are the thread's
// first and latest events ("" for the first message).
func (s *Sender) sendPart(ctx context.Context, d channels.Delivery, roomID string, idx int, m Message, root, prev string, receipt *channels.Receipt) (channels.Part, error) {
	txn := TxnID(d.IdempotencyKey(idx))
	if d.PreviousUnknown {
		if id, err := s.findSent(ctx, roomID, txn); err != nil {
			return channels.Part{}, err
		} else if id != "" {
			s.log.Info("matrix: event already in the room from an earlier attempt", "post", d.PostID, "event", id)
			return s.part(idx, roomID, id), nil
		}
	}
	content, note, err := s.wire(ctx, m, root, prev)
	if err != nil {
		return channels.Part{}, err
	}
	if note != "" {
		s.log.Warn("matrix: posting without the image", "post", d.PostID, "reason", note)
		receipt.Notes = append(receipt.Notes, note)
	}
	content[txnKey] = txn
	id, err := s.put(ctx, roomID, "m.room.message", txn, content)
	if err != nil {
		return channels.Part{}, err
	}
	return s.part(idx, roomID, id), nil
}

// put sends one event with a transaction ID and returns its ID.
func (s *Sender) put(ctx context.Context, roomID, typ, txn string, content any) (string, error) {
	var out struct {
		EventID string `json:"event_id"`
	}
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/send/" + typ + "/" + url.PathEscape(txn)
	if err := s.api.Do(ctx, matrixroom.Request{Method: http.MethodPut, Path: path, Body: content, Creates: true}, &out); err != nil {
		return "", fmt.Errorf("sending to Matrix room %s: %w", roomID, err)
	}
	if out.EventID == "" {
		return "", channels.Ambiguous(fmt.Errorf("sending to Matrix room %s: the homeserver named no event", roomID))
	}
	return out.EventID, nil
}

// part is the ledger's record of an event: its room and ID, and the
// matrix.to link any client opens.
func (s *Sender) part(idx int, roomID, eventID string) channels.Part {
	return channels.Part{Index: idx, RemoteID: roomID + "/" + eventID,
		RemoteURL: permalink(roomID, eventID)}
}

// permalink is the matrix.to link to an event, its IDs encoded as the
// specification's examples do.
func permalink(roomID, eventID string) string {
	return "https://matrix.to/#/" + url.QueryEscape(roomID) + "/" + url.QueryEscape(eventID)
}

// splitRemote parses a part's RemoteID ("!room:server/$event").
func splitRemote(id string) (roomID, eventID string) {
	if i := strings.Index(id, "/$"); i > 0 {
		return id[:i], id[i+1:]
	}
	return "", id
}

// TxnID is the transaction ID of an idempotency key: a hash, since a post's
// ID may hold anything and a transaction ID sits in a URL path.
func TxnID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "crier-" + hex.EncodeToString(sum[:16])
}

// wire is m's content as sent: the thread relation, and for a picture the
// uploaded mxc:// URI and its info. A picture that cannot be had becomes a
// text message saying what it showed, with a note why.
func (s *Sender) wire(ctx context.Context, m Message, root, prev string) (map[string]any, string, error) {
	c := map[string]any{"msgtype": m.MsgType, "body": m.Body}
	if m.Format != "" {
		c["format"], c["formatted_body"] = m.Format, m.FormattedBody
	}
	note := ""
	if m.Image != nil {
		mxc, info, err := s.upload(ctx, *m.Image)
		var refusal *imageError
		switch {
		case errors.As(err, &refusal):
			note = fmt.Sprintf("image left out: %s: %v", imageRef(*m.Image), refusal.err)
			c["msgtype"], c["body"] = "m.text", "[Image: "+m.Body+"]"
		case err != nil:
			return nil, "", err
		default:
			c["url"], c["info"] = mxc, info
		}
	}
	if m.InThread && root != "" {
		c["m.relates_to"] = map[string]any{"rel_type": "m.thread", "event_id": root, "is_falling_back": true,
			"m.in_reply_to": map[string]string{"event_id": prev}}
	}
	return c, note, nil
}

// imageError is a picture that cannot be sent: the post goes without it.
type imageError struct{ err error }

func (e *imageError) Error() string { return e.err.Error() }

func imageRef(img Image) string {
	if img.File != "" {
		return img.File
	}
	return img.URL
}

// upload reads the picture and puts it in the media repository.
func (s *Sender) upload(ctx context.Context, img Image) (string, map[string]any, error) {
	limit, err := s.limit(ctx)
	if err != nil {
		return "", nil, err
	}
	var data []byte
	var ct string
	if img.File != "" {
		if data, ct, err = channels.ReadImageFile(img.File, limit); err != nil {
			return "", nil, &imageError{err}
		}
	} else {
		res, err := s.content.Image(ctx, img.URL)
		if err != nil {
			var fe *contentfetch.Error
			if errors.As(err, &fe) {
				err = fe.Err
			}
			return "", nil, &imageError{err}
		}
		if int64(len(res.Data)) > limit {
			return "", nil, &imageError{fmt.Errorf("it is over the homeserver's upload limit of %d bytes", limit)}
		}
		data, ct = res.Data, res.ContentType
	}
	var out struct {
		URI string `json:"content_uri"`
	}
	// An upload has no transaction ID: a repeat leaves an unused copy in
	// the media repository, never a second message.
	if err := s.api.Do(ctx, matrixroom.Request{Method: http.MethodPost, Path: "/_matrix/media/v3/upload", Raw: data, ContentType: ct}, &out); err != nil {
		var refusal *matrixroom.Error
		if errors.As(err, &refusal) && (refusal.Code == "M_TOO_LARGE" || refusal.Status == http.StatusRequestEntityTooLarge) {
			return "", nil, &imageError{fmt.Errorf("the homeserver refused it as too large (%w)", refusal)}
		}
		return "", nil, fmt.Errorf("uploading the picture: %w", err)
	}
	if !strings.HasPrefix(out.URI, "mxc://") {
		return "", nil, channels.Temporary(errors.New("uploading the picture: the homeserver named no mxc:// URI"))
	}
	info := map[string]any{"mimetype": ct, "size": len(data)}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		info["w"], info["h"] = cfg.Width, cfg.Height
	}
	return out.URI, info, nil
}

// limit is the homeserver's upload limit, asked once.
func (s *Sender) limit(ctx context.Context) (int64, error) {
	s.mu.Lock()
	l := s.uploadLimit
	s.mu.Unlock()
	if l > 0 {
		return l, nil
	}
	var out struct {
		Size int64 `json:"m.upload.size"`
	}
	l = defaultUploadLimit
	if err := s.api.Call(ctx, http.MethodGet, "/_matrix/client/v1/media/config", nil, &out); err == nil && out.Size > 0 {
		l = out.Size
	} else if kind, _ := channels.Classify(err); err != nil && kind != channels.KindPermanent {
		return 0, fmt.Errorf("reading the homeserver's upload limit: %w", err)
	}
	s.mu.Lock()
	s.uploadLimit = l
	s.mu.Unlock()
	return l, nil
}

// join makes the account a member of a configured room and returns the
// room's ID, resolving an alias first; once per room.
func (s *Sender) join(ctx context.Context, room string) (string, error) {
	s.mu.Lock()
	id, ok := s.rooms[room]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := s.api.Join(ctx, room)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.rooms[room] = id
	s.mu.Unlock()
	return id, nil
}

// whoami is the account's user ID, asked once.
func (s *Sender) whoami(ctx context.Context) (string, error) {
	s.mu.Lock()
	me := s.me
	s.mu.Unlock()
	if me != "" {
		return me, nil
	}
	var out struct {
		UserID string `json:"user_id"`
	}
	if err := s.api.Call(ctx, http.MethodGet, "/_matrix/client/v3/account/whoami", nil, &out); err != nil {
		return "", fmt.Errorf("asking the homeserver who the account is: %w", err)
	}
	s.mu.Lock()
	s.me = out.UserID
	s.mu.Unlock()
	return out.UserID, nil
}

// findSent looks through the room's latest messages of the account for
// the event of txn, for a retry once the homeserver may have forgotten
// the transaction; "" when it is not there.
func (s *Sender) findSent(ctx context.Context, roomID, txn string) (string, error) {
	me, err := s.whoami(ctx)
	if err != nil {
		return "", err
	}
	f, _ := json.Marshal(map[string][]string{"types": {"m.room.message"}, "senders": {me}})
	var out struct {
		Chunk []event `json:"chunk"`
	}
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages?dir=b&limit=50&filter=" + url.QueryEscape(string(f))
	if err := s.api.Call(ctx, http.MethodGet, path, nil, &out); err != nil {
		return "", fmt.Errorf("looking for an event an earlier attempt sent: %w", err)
	}
	for _, e := range out.Chunk {
		if e.Sender == me && e.Content[txnKey] == txn {
			return e.ID, nil
		}
	}
	return "", nil
}

// event is a room event.
type event = matrixroom.Event
