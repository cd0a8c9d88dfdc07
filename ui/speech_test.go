package ui

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// installed returns a program finder that knows only the named programs, as
// exec.LookPath would on a system with just those installed.
func installed(names ...string) func(string) (string, error) {
	return func(name string) (string, error) {
		if slices.Contains(names, name) {
			return "/usr/bin/" + name, nil
		}
		return "", exec.ErrNotFound
	}
}

// decodePS undoes psEncode.
func decodePS(t *testing.T, enc string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b)%2 != 0 {
		t.Fatalf("-EncodedCommand %q is not base64 UTF-16: %v", enc, err)
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units))
}

// TestSpeechCommandFor checks the command each system gets, and that the
// text is never where a shell or an option parser could act on it.
func TestSpeechCommandFor(t *testing.T) {
	const text = "-rf a cat's \"toy\"; $(reboot) `id`"
	tests := []struct {
		name, goos, wav string
		have            []string
		want            speechCommand
		wantErr         string
	}{
		{"linux spd-say first", "linux", "", []string{"spd-say", "espeak-ng"},
			speechCommand{Path: "/usr/bin/spd-say", Args: []string{"--wait", "--", text}, Stop: []string{"/usr/bin/spd-say", "--stop"}}, ""},
		{"linux espeak-ng", "linux", "", []string{"espeak-ng"},
			speechCommand{Path: "/usr/bin/espeak-ng", Args: []string{"--stdin"}, Stdin: text}, ""},
		{"linux old espeak", "linux", "", []string{"espeak"},
			speechCommand{Path: "/usr/bin/espeak", Args: []string{"--stdin"}, Stdin: text}, ""},
		{"linux to a file takes espeak-ng", "linux", "/tmp/o.wav", []string{"spd-say", "espeak-ng"},
			speechCommand{Path: "/usr/bin/espeak-ng", Args: []string{"--stdin", "-w", "/tmp/o.wav"}, Stdin: text}, ""},
		{"freebsd espeak-ng", "freebsd", "", []string{"espeak-ng"},
			speechCommand{Path: "/usr/bin/espeak-ng", Args: []string{"--stdin"}, Stdin: text}, ""},
		{"linux nothing", "linux", "", nil, speechCommand{}, "install espeak-ng"},
		{"linux file without espeak-ng", "linux", "/tmp/o.wav", []string{"spd-say"}, speechCommand{}, "install espeak-ng"},
		{"macOS", "darwin", "", []string{"say"}, speechCommand{Path: "/usr/bin/say", Stdin: text}, ""},
		{"macOS to a file", "darwin", "/tmp/o.wav", []string{"say"},
			speechCommand{Path: "/usr/bin/say", Args: []string{"-o", "/tmp/o.wav", "--file-format=WAVE", "--data-format=LEI16@22050"}, Stdin: text}, ""},
		{"macOS without say", "darwin", "", nil, speechCommand{}, "say command"},
		{"windows without PowerShell", "windows", "", nil, speechCommand{}, "powershell.exe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := speechCommandFor(tc.goos, text, tc.wav, installed(tc.have...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != tc.want.Path || !slices.Equal(got.Args, tc.want.Args) || got.Stdin != tc.want.Stdin || !slices.Equal(got.Stop, tc.want.Stop) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestSpeechCommandWindows checks the PowerShell script: the text (and the
// WAV path) are single-quoted literals, and the command line holds only
// base64.
func TestSpeechCommandWindows(t *testing.T) {
	tests := []struct{ text, wav, quoted string }{
		{"A dog on a beach.", "", "'A dog on a beach.'"},
		{"it's $env:USERNAME", "", "'it''s $env:USERNAME'"},
		{"a ’curly’ ‘quote’ ‚ ‛", "", "'a ’’curly’’ ‘‘quote’’ ‚‚ ‛‛'"},
		{"'); Remove-Item -Recurse C:\\ ; ('", `C:\Users\o'neil\a.wav`, "'''); Remove-Item -Recurse C:\\ ; ('''"},
		{"line\r\nbreak\x00", "", "'line  break'"},
	}
	for _, tc := range tests {
		c, err := speechCommandFor("windows", tc.text, tc.wav, installed("powershell.exe"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Path != "/usr/bin/powershell.exe" || len(c.Args) != 4 || c.Args[2] != "-EncodedCommand" || c.Stdin != "" {
			t.Fatalf("command %+v", c)
		}
		if strings.Trim(c.Args[3], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
			t.Errorf("encoded command %q holds more than base64", c.Args[3])
		}
		script := decodePS(t, c.Args[3])
		want := "Add-Type -AssemblyName System.Speech; $s = New-Object System.Speech.Synthesis.SpeechSynthesizer; "
		if tc.wav != "" {
			want += "$s.SetOutputToWaveFile(" + psQuote(tc.wav) + "); "
		}
		want += "$s.Speak(" + tc.quoted + "); $s.Dispose()"
		if script != want {
			t.Errorf("text %q: script\n%s\nwant\n%s", tc.text, script, want)
		}
	}
	if got := psQuote(`C:\Users\o'neil\a.wav`); got != `'C:\Users\o''neil\a.wav'` {
		t.Errorf("psQuote = %s", got)
	}
}

// TestSpeechTextLimit checks that long text is cut to what a Windows
// command line can carry.
func TestSpeechTextLimit(t *testing.T) {
	long := strings.Repeat("é", 3*maxSpeechRunes)
	if n := len([]rune(speechText(long))); n != maxSpeechRunes {
		t.Errorf("speechText kept %d runes, want %d", n, maxSpeechRunes)
	}
	c, err := speechCommandFor("windows", strings.Repeat("'", 3*maxSpeechRunes), "", installed("powershell.exe"))
	if err != nil {
		t.Fatal(err)
	}
	// Windows allows 32767 UTF-16 units on a command line.
	if n := len(strings.Join(c.Args, " ")); n > 32000 {
		t.Errorf("the longest PowerShell command line is %d characters", n)
	}
}

// TestSpeechToFileEspeak speaks with the real espeak-ng (installed by make
// deps) into a WAV file, which must hold sound. Text that looks like options
// must be spoken, not obeyed.
func TestSpeechToFileEspeak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("espeak-ng is the Linux speech program; other systems' commands are checked in TestSpeechCommandFor")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed: run make deps (or apt install espeak-ng)")
	}
	dir := t.TempDir()
	evil := filepath.Join(dir, "evil.wav")
	tests := []struct{ name, text string }{
		{"caption", "A red circle and a blue square on a white background."},
		{"option-like", "-w " + evil + " --version"},
		{"unicode", "Un café près de la fenêtre ☕"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wav := filepath.Join(dir, tc.name+".wav")
			if err := speakToFile(tc.text, wav); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(wav)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
				t.Fatalf("%s is not a WAV file (%d bytes)", wav, len(b))
			}
			// A second of 22 kHz 16-bit speech is 44 KB; a few words are more.
			if len(b) < 20000 || bytes.Count(b[44:], []byte{0}) == len(b)-44 {
				t.Errorf("%s holds no speech (%d bytes)", wav, len(b))
			}
		})
	}
	if _, err := os.Stat(evil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("text that looks like options was obeyed: %s exists", evil)
	}
}

// TestSpeechSpeakerEspeak reads aloud through the real espeak-ng, as the app does
// (a machine without a sound card still runs it to the end), and checks the
// speaker's bookkeeping.
func TestSpeechSpeakerEspeak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("espeak-ng is the Linux speech program")
	}
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed: run make deps (or apt install espeak-ng)")
	}
	s := newSpeaker()
	s.look = func(name string) (string, error) {
		if name == "espeak-ng" {
			return exec.LookPath(name)
		}
		return "", exec.ErrNotFound
	}
	s.Stop() // nothing to stop: no effect
	done := make(chan error, 1)
	if err := s.Speak("A short caption.", func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("espeak-ng failed: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("espeak-ng did not finish in 30 s")
	}
	if s.Speaking() {
		t.Error("still speaking after the program ended")
	}

	none := newSpeaker()
	none.goos, none.look = "linux", installed()
	if err := none.Speak("hello", nil); !errors.Is(err, errNoSpeech) {
		t.Errorf("without a speech program Speak = %v, want errNoSpeech", err)
	}
}
