package channels

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/crierhq/crier/contentfetch"
)

// ReadImageFile reads a post's local image (image.file), at most max bytes,
// and returns it with its picture type. Its errors say what is wrong in
// words for the organiser (missing file, too big, not a picture).
func ReadImageFile(path string, max int64) ([]byte, string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", errors.New("the file does not exist")
	}
	if err != nil {
		return nil, "", fmt.Errorf("the file cannot be read: %w", pathless(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, "", fmt.Errorf("the file cannot be read: %w", pathless(err))
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("the file is over the limit of %d MB", max>>20)
	}
	ct, ok := contentfetch.ImageType(data, "")
	if !ok {
		return nil, "", fmt.Errorf("the file is not a picture (it looks like %s)", ct)
	}
	return data, ct, nil
}

func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadImage reads a post's picture to upload it: its local file, else its
// content URL through the guarded content client, at most max bytes, with
// its picture type. network names the service in the error over the limit
// ("Telegram"). Its errors are in words for the organiser.
func ReadImage(ctx context.Context, content *contentfetch.Client, file, url string, max int64, network string) ([]byte, string, error) {
	if file != "" {
		return ReadImageFile(file, max)
	}
	res, err := content.Image(ctx, url)
	if err != nil {
		var fe *contentfetch.Error
		if errors.As(err, &fe) {
			return nil, "", fe.Err
		}
		return nil, "", err
	}
	if int64(len(res.Data)) > max {
		return nil, "", fmt.Errorf("it is over %s's photo limit of %d MB", network, max>>20)
	}
	return res.Data, res.ContentType, nil
}

// UploadName is an upload's file name: the base name of ref (a file path
// or URL) with the extension of contentType, "photo" when ref has none
// fit to send.
func UploadName(ref, contentType string) string {
	ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}[contentType]
	name := strings.TrimSuffix(path.Base(strings.ReplaceAll(ref, "\\", "/")), path.Ext(ref))
	if name == "" || name == "." || name == "/" || len(name) > 60 {
		name = "photo"
	}
	return name + ext
}
