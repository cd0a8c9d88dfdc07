// Package filekind names what a path is when it is not a plain file, for
// the one-line errors that refuse such paths: an image that is a named
// pipe (opening it would block), an output that is a device or a link
// (replacing it would break it).
package filekind

import "io/fs"

// Of names the kind of file m describes, as a phrase that completes "it
// is …" ("a named pipe", "a folder"), or "" for a regular file. Symbolic
// links are named only for modes from Lstat.
func Of(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "a folder"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}
