// Package outfile writes the files Glimpse makes for people (exports,
// captions, preprocessed tensors) so that a failure never leaves half a
// file, and so that a path naming something other than a file is refused
// rather than written through or replaced: writing "output" onto /dev/null
// through a temporary file and a rename would replace the device node (as
// root), a named pipe would block until some reader came, and a symbolic
// link would be swapped for a plain file.
//
// A file is written beside its destination under a temporary name, synced,
// and renamed over the destination only when every write and the close
// succeeded.
package outfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"glimpse/internal/filekind"
)

// ErrNotFile is matched (errors.Is) by the errors for destinations that
// exist and are not regular files.
var ErrNotFile = errors.New("not a regular file")

// KindError is a destination that exists and is not a regular file.
type KindError struct {
	Path string // the destination, as given
	Kind string // what it is: "a folder", "a device", "a named pipe", "a socket", "a symbolic link"
}

// Error names the path and what it is, in one line for people.
func (e *KindError) Error() string {
	return fmt.Sprintf("cannot write %s: it is %s, not a file (name a new file, or a file to replace)", e.Path, e.Kind)
}

// Is reports that e is an ErrNotFile.
func (e *KindError) Is(target error) bool { return target == ErrNotFile }

// Error is a failure to write a destination: its folder is missing, the
// disk is full, and so on.
type Error struct {
	Path string // the destination, as given
	Err  error  // the cause, without the temporary file's name
}

// Error names the destination and the cause.
func (e *Error) Error() string { return fmt.Sprintf("cannot write %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// wrap turns an error about the temporary file into one about path: the
// temporary name means nothing to the person who named path.
func wrap(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	return &Error{Path: path, Err: err}
}

// Check reports whether path may be written: it must not exist yet, or be
// a regular file. A symbolic link is refused whatever it points to, since
// the rename that replaces path would replace the link itself. The error
// is a *KindError, or an *Error when path cannot even be looked at.
func Check(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return wrap(path, err)
	}
	if k := filekind.Of(st.Mode()); k != "" {
		return &KindError{Path: path, Kind: k}
	}
	return nil
}

// File is a destination being written. Write to it, then Commit to put it
// in place, or Abort to leave the destination as it was.
type File struct {
	path string
	tmp  *os.File
	mode fs.FileMode
	done bool
	err  error // the first write error, which Commit reports
}

// Create starts writing path, which Check must accept. A file it replaces
// keeps its permissions; a new one is readable by everyone (0644), like
// the files people save with other programs.
func Create(path string) (*File, error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, wrap(path, err)
	}
	return &File{path: path, tmp: tmp, mode: mode}, nil
}

// Write writes to the temporary file. After a failed write, later writes
// write nothing and return the same error.
func (f *File) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.tmp.Write(p)
	if err != nil {
		f.err = wrap(f.path, err)
	}
	return n, f.err
}

// Commit puts what was written in place of the destination, unless a
// write, the sync or the close failed, or the destination became something
// other than a file meanwhile: then the destination is left as it was and
// the temporary file removed. Commit and Abort end the File; later calls do
// nothing.
func (f *File) Commit() error {
	if f.done {
		return f.err
	}
	f.done = true
	err := f.err
	if err == nil {
		err = f.tmp.Sync()
	}
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.tmp.Name(), f.mode)
	}
	if err == nil {
		err = Check(f.path)
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.tmp.Name())
		var ke *KindError
		var oe *Error
		if !errors.As(err, &ke) && !errors.As(err, &oe) {
			err = wrap(f.path, err)
		}
		f.err = err
		return err
	}
	syncDir(filepath.Dir(f.path))
	return nil
}

// Abort removes the temporary file, leaving the destination as it was.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// WriteFile writes data to path through Create and Commit.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// syncDir makes a rename in dir durable where the system allows it; the
// file itself is already synced, so a failure here costs at most the new
// name after a crash, never the old file's contents.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
