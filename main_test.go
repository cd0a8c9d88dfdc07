package main

import "testing"

// TestAppVersion reads the version the way `fyne package` writes it, and
// panics on a metadata file without one: every build must know its version.
func TestAppVersion(t *testing.T) {
	tests := []struct{ toml, want string }{
		{"[Details]\nIcon = \"icon.png\"\nName = \"Glimpse\"\nVersion = \"1.4.2\"\nBuild = 17\n", "1.4.2"},
		{"[Details]\n  Version   =   \"0.9.0-rc1\"\n", "0.9.0-rc1"},
	}
	for _, tc := range tests {
		if got := appVersion(tc.toml); got != tc.want {
			t.Errorf("appVersion(%q) = %q, want %q", tc.toml, got, tc.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("no panic for a file without a Version")
		}
	}()
	appVersion("[Details]\nName = \"Glimpse\"\n")
}
