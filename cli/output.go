package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Output: every command writes standard output through one checkedWriter,
// which Main puts in Env.Stdout, so that a full disk, a closed pipe or
// /dev/full ends the command with a one-line error and exit code 1 instead
// of exit code 0 and lost output. Files named with --out are written with
// internal/outfile: atomically, and only onto regular files or new paths.

// checkedWriter keeps the first error of the writer it wraps; after it,
// writes write nothing and return that error again, so that a command can
// write freely and have the failure reported once.
type checkedWriter struct {
	w   io.Writer
	err error // the first write error, worded for people
}

// checked returns w as a checkedWriter, wrapping it unless it is one.
func checked(w io.Writer) *checkedWriter {
	if c, ok := w.(*checkedWriter); ok {
		return c
	}
	return &checkedWriter{w: w}
}

// Write writes p unless an earlier write failed. Its errors say that
// standard output could not be written, and why.
func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // "write /dev/stdout: …" names a file the user never named
		}
		c.err = fmt.Errorf("cannot write to standard output: %w", err)
	}
	return n, c.err
}

// Err returns the first write error, or nil.
func (c *checkedWriter) Err() error { return c.err }

// file returns the *os.File underneath, for terminal checks, or nil.
func (c *checkedWriter) file() *os.File {
	f, _ := c.w.(*os.File)
	return f
}
