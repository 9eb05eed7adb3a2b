// Package media provides the console's uploaded images by name: a post
// stores "/media/<name>", and the full address is built when the post is
// sent, from http.public_url as it is then. An address frozen at upload time
// broke when public_url changed, and went out to supporters unnoticed.
package media

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/crierhq/crier/post"
)

// Prefix starts the address of every uploaded image, on the console's own
// server and in a stored post.
const Prefix = "/media/"

var nameRe = regexp.MustCompile(`^[a-z0-9]{20}\.(png|jpg|gif|webp)$`)

// ValidName reports whether name has the shape the console gives uploads
// (so it names no other file).
func ValidName(name string) bool { return nameRe.MatchString(name) }

// Ref is how a post stores the upload called name.
func Ref(name string) string { return Prefix + name }

// ErrForeignAddress is a media address that is not under http.public_url
// and whose file is not among the uploads: it would send supporters a
// picture they cannot open.
var ErrForeignAddress = errors.New("the image's address is not under http.public_url")

// Resolver finds uploads and builds their addresses.
type Resolver struct {
	// PublicURL is http.public_url; empty means uploads have no address and
	// go out as files (attached, uploaded) only.
	PublicURL string
	// Dir holds the uploads (data/uploads).
	Dir string
}

// Name is the upload an image is, "" for any other image. Besides the
// stored form "/media/<name>" it reads the rows written before it: a full
// address frozen at upload time, or a file in Dir.
func (r Resolver) Name(img *post.Image) string {
	if img == nil {
		return ""
	}
	if name, ok := strings.CutPrefix(img.URL, Prefix); ok && ValidName(name) {
		return name
	}
	if img.File != "" && filepath.Dir(img.File) == filepath.Clean(r.Dir) && ValidName(filepath.Base(img.File)) {
		return filepath.Base(img.File)
	}
	if u, err := url.Parse(img.URL); err == nil && u.IsAbs() && strings.HasPrefix(u.Path, Prefix) {
		if name := path.Base(u.Path); ValidName(name) && r.exists(name) {
			return name
		}
	}
	return ""
}

func (r Resolver) exists(name string) bool {
	_, err := os.Stat(filepath.Join(r.Dir, name))
	return err == nil
}

// Resolve returns p with an uploaded image's address built from PublicURL
// and its file in Dir, as the channels send it. A media address under
// another server that is not one of the uploads is refused with
// ErrForeignAddress, naming both addresses.
func (r Resolver) Resolve(p post.Post) (post.Post, error) {
	if p.Image == nil {
		return p, nil
	}
	name := r.Name(p.Image)
	if name == "" {
		if err := r.checkForeign(p.Image.URL); err != nil {
			return p, err
		}
		return p, nil
	}
	img := *p.Image
	img.File = filepath.Join(r.Dir, name)
	img.URL = ""
	if base := strings.TrimRight(r.PublicURL, "/"); base != "" {
		img.URL = base + Prefix + name
	}
	p.Image = &img
	return p, nil
}

// checkForeign refuses a /media/ address on a server other than PublicURL's
// whose file is not here (an upload lost, or a row copied from elsewhere).
func (r Resolver) checkForeign(addr string) error {
	u, err := url.Parse(addr)
	if err != nil || !u.IsAbs() || !strings.HasPrefix(u.Path, Prefix) || !ValidName(path.Base(u.Path)) {
		return nil
	}
	if pub, err := url.Parse(r.PublicURL); err == nil && pub.Host == u.Host && r.PublicURL != "" {
		return nil
	}
	return fmt.Errorf("%w (%s): its address is %s and no such upload is in %s; upload the picture again in the console",
		ErrForeignAddress, r.PublicURL, addr, r.Dir)
}
