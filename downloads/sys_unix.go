//go:build unix

package downloads

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// diskFree returns the bytes an unprivileged user may still write on the
// filesystem holding dir.
func diskFree(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// tryLock takes an exclusive advisory lock on f without waiting. It is the
// flock huggingface_hub's filelock takes on the same .lock files, so the two
// never write one blob at once; the kernel drops it when the process dies.
func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }
