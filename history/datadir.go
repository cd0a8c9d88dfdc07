package history

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// EnvHome names the environment variable that, when set, puts all of
// Glimpse's files in one folder: DataDir returns it and CacheDir a "cache"
// folder inside it. Tests, portable installs and people who keep their data
// on another disk use it.
const EnvHome = "GLIMPSE_HOME"

// DataDir returns the folder that holds the user's own data: the history
// database and the images attached to conversations. The app, the command
// line tools and the model code all use it, so they agree on one place.
//
// With GLIMPSE_HOME set it is that folder (made absolute). Otherwise it
// follows the platform's convention:
//
//   - Linux and other Unix systems: $XDG_DATA_HOME/glimpse, by default
//     ~/.local/share/glimpse (XDG keeps data apart from configuration);
//   - Windows: %AppData%\Glimpse (os.UserConfigDir);
//   - macOS: ~/Library/Application Support/Glimpse (os.UserConfigDir).
//
// DataDir does not create the folder; Open does.
func DataDir() (string, error) {
	if h := os.Getenv(EnvHome); h != "" {
		return filepath.Abs(h)
	}
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9":
		base, err := os.UserConfigDir()
		if err != nil {
			return "", noHome(err)
		}
		return filepath.Join(base, appFolder()), nil
	}
	// The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, appFolder()), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", noHome(err)
	}
	return filepath.Join(home, ".local", "share", appFolder()), nil
}

// CacheDir returns the folder for files Glimpse can fetch or rebuild again,
// such as downloaded model weights: os.UserCacheDir/glimpse
// ($XDG_CACHE_HOME/glimpse or ~/.cache/glimpse on Linux,
// %LocalAppData%\Glimpse on Windows, ~/Library/Caches/Glimpse on macOS), or
// GLIMPSE_HOME/cache when GLIMPSE_HOME is set. It does not create the folder.
func CacheDir() (string, error) {
	if h := os.Getenv(EnvHome); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return "", err
		}
		return filepath.Join(abs, "cache"), nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", noHome(err)
	}
	return filepath.Join(base, appFolder()), nil
}

// appFolder is the name of Glimpse's folder: capitalised where folders in
// those locations are named for people (Windows, macOS), lower case where
// they are named like commands.
func appFolder() string {
	switch runtime.GOOS {
	case "windows", "darwin", "ios":
		return "Glimpse"
	}
	return "glimpse"
}

func noHome(err error) error {
	return errors.Join(errors.New("cannot tell where to keep Glimpse's data; set "+EnvHome+" to a folder"), err)
}
