package history

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestDataDir(t *testing.T) {
	home := t.TempDir()
	rel := "relative-home"
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		env       map[string]string
		wantData  string
		wantCache string
		unixOnly  bool // XDG variables mean nothing on Windows and macOS
	}{
		{name: "GLIMPSE_HOME wins", env: map[string]string{EnvHome: home, "XDG_DATA_HOME": "/elsewhere"},
			wantData: home, wantCache: filepath.Join(home, "cache")},
		{name: "relative GLIMPSE_HOME is made absolute", env: map[string]string{EnvHome: rel},
			wantData: filepath.Join(wd, rel), wantCache: filepath.Join(wd, rel, "cache")},
		{name: "XDG_DATA_HOME", env: map[string]string{EnvHome: "", "XDG_DATA_HOME": home, "XDG_CACHE_HOME": filepath.Join(home, "c")},
			wantData: filepath.Join(home, "glimpse"), wantCache: filepath.Join(home, "c", "glimpse"), unixOnly: true},
		{name: "relative XDG_DATA_HOME is ignored", env: map[string]string{EnvHome: "", "XDG_DATA_HOME": "rel", "HOME": home, "XDG_CACHE_HOME": ""},
			wantData: filepath.Join(home, ".local", "share", "glimpse"), wantCache: filepath.Join(home, ".cache", "glimpse"), unixOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unixOnly && (runtime.GOOS == "windows" || runtime.GOOS == "darwin") {
				t.Skipf("XDG locations apply on Linux and other Unix systems, not %s", runtime.GOOS)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			data, err := DataDir()
			if err != nil || data != tt.wantData {
				t.Errorf("DataDir() = %q, %v; want %q", data, err, tt.wantData)
			}
			cache, err := CacheDir()
			if err != nil || cache != tt.wantCache {
				t.Errorf("CacheDir() = %q, %v; want %q", cache, err, tt.wantCache)
			}
		})
	}
}

func TestOpenDefaultUsesGlimpseHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "not yet there")
	t.Setenv(EnvHome, home)
	s, err := OpenDefault()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dir() != home || !exists(filepath.Join(home, DBName)) {
		t.Errorf("store in %q, want a new database in %q", s.Dir(), home)
	}
}
