package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"10GB", 10_000_000_000, true},
		{"64MB", 64_000_000, true},
		{"256MiB", 256 << 20, true},
		{"1.5gib", 3 << 29, true},
		{"1000000", 1_000_000, true},
		{"0", 0, false},
		{"-5MB", 0, false},
		{"big", 0, false},
	}
	for _, c := range cases {
		got, err := parseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ck")
	cases := []struct {
		name string
		args []string
		want string // error fragment; "" for success
	}{
		{"plan", []string{"--model", "flan-t5-xl", "--plan"}, ""},
		{"no model", []string{"--out", out}, "help requested"},
		{"no out", []string{"--model", "vicuna-7b"}, "help requested"},
		{"bad size", []string{"--model", "vicuna-7b", "--out", out, "--shard-size", "lots"}, "--shard-size"},
		{"bad model", []string{"--model", "opt-2.7b", "--plan"}, "unknown model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(c.args)
			if c.want == "" && err != nil {
				t.Fatal(err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
			if c.want == "help requested" && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("error %v is not flag.ErrHelp", err)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed or planning run wrote the folder")
	}
}
