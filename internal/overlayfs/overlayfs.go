// Package overlayfs provides the operators' template overrides: a folder on
// disk laid over the built-in files, file by file, as one fs.FS. The
// newsletter's mail templates (channels.email.templates) and the newsletter
// pages (http.templates) both read through it, so an override is found,
// refused or reported the same way in both.
//
// Only files inside the folder override: a name with ".." or an absolute
// one is refused (fs.ValidPath), and so is a symbolic link leading out of
// the folder (os.OpenInRoot), rather than read from wherever it points.
package overlayfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is a folder's files over a base set. Its zero value has neither.
type FS struct {
	dir  string
	base fs.FS
}

// New returns base with the files of dir over it; dir "" is base alone.
// The error says when dir is missing or not a folder.
func New(dir string, base fs.FS) (*FS, error) {
	if dir != "" {
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s: not a folder", dir)
		}
	}
	return &FS{dir: dir, base: base}, nil
}

// Open opens name from the folder when it has it, else from the base.
func (o *FS) Open(name string) (fs.File, error) {
	f, _, err := o.open(name)
	return f, err
}

// ReadFile reads name (fs.ReadFileFS) from the folder when it has it, else
// from the base.
func (o *FS) ReadFile(name string) ([]byte, error) {
	b, _, err := o.Read(name)
	return b, err
}

// Read reads name and says where it came from: the file's path in the
// folder, or "built-in <name>", for error messages that name the file an
// operator must fix.
func (o *FS) Read(name string) (data []byte, where string, err error) {
	f, where, err := o.open(name)
	if err != nil {
		return nil, where, err
	}
	defer f.Close()
	if data, err = io.ReadAll(f); err != nil {
		return nil, where, fmt.Errorf("reading %s: %w", where, err)
	}
	return data, where, nil
}

func (o *FS) open(name string) (fs.File, string, error) {
	if !fs.ValidPath(name) {
		return nil, name, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if o.dir != "" {
		where := filepath.Join(o.dir, filepath.FromSlash(name))
		f, err := os.OpenInRoot(o.dir, filepath.FromSlash(name))
		if err == nil {
			return f, where, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			// Unreadable, or a link leading out of the folder: an
			// override that is there but refused is an error, not
			// a silent fall back to the built-in file. The error names
			// the file in the folder (os.Root's names it in the root).
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = &fs.PathError{Op: pe.Op, Path: where, Err: pe.Err}
			}
			return nil, where, err
		}
	}
	where := "built-in " + name
	if o.base == nil {
		return nil, where, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := o.base.Open(name)
	return f, where, err
}
