package channels

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

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
