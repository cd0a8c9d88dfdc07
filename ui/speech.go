package ui

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
)

// Reading aloud goes through the speech service the system already has, run
// as a program (no cgo): Speech Dispatcher's spd-say or espeak-ng on Linux
// and the BSDs, say on macOS, and SAPI through PowerShell on Windows. The
// text never becomes part of a command line a shell could interpret: it goes
// to the program's standard input, or as one argv entry after "--", or (on
// Windows) as a single-quoted PowerShell string inside an -EncodedCommand.

// maxSpeechRunes bounds what is read aloud: captions are a sentence, and
// Windows limits a command line to 32767 UTF-16 units (the encoded
// PowerShell script grows the text about 2.7 times).
const maxSpeechRunes = 5000

// errNoSpeech is returned on Linux and the BSDs when no speech program is
// installed.
var errNoSpeech = errors.New("reading aloud needs a speech program: install espeak-ng " +
	"(sudo apt install espeak-ng) or Speech Dispatcher (spd-say)")

// speechCommand is one way of speaking a text: a program, its arguments and
// what goes to its standard input.
type speechCommand struct {
	Path  string
	Args  []string
	Stdin string
	// Stop, when set, is the command that silences speech that outlives the
	// program: spd-say hands the text to the Speech Dispatcher server, which
	// goes on speaking after spd-say is killed.
	Stop []string
}

// speechCommandFor builds the command that reads text aloud on goos, or,
// when wav is not "", writes the speech to that WAV file instead (used by
// the tests and available to anyone who wants a recording). look finds
// programs (exec.LookPath). It runs nothing, so every system's command is
// tested on any system.
func speechCommandFor(goos, text, wav string, look func(string) (string, error)) (speechCommand, error) {
	text = speechText(text)
	switch goos {
	case "darwin":
		p, err := look("say")
		if err != nil {
			return speechCommand{}, errors.New("reading aloud needs macOS's say command, which was not found")
		}
		// say reads the message from standard input when given none.
		var args []string
		if wav != "" {
			args = []string{"-o", wav, "--file-format=WAVE", "--data-format=LEI16@22050"}
		}
		return speechCommand{Path: p, Args: args, Stdin: text}, nil
	case "windows":
		p, err := look("powershell.exe")
		if err != nil {
			return speechCommand{}, errors.New("reading aloud needs Windows PowerShell (powershell.exe), which was not found")
		}
		script := "Add-Type -AssemblyName System.Speech; " +
			"$s = New-Object System.Speech.Synthesis.SpeechSynthesizer; "
		if wav != "" {
			script += "$s.SetOutputToWaveFile(" + psQuote(wav) + "); "
		}
		script += "$s.Speak(" + psQuote(text) + "); $s.Dispose()"
		return speechCommand{Path: p, Args: []string{"-NoProfile", "-NonInteractive", "-EncodedCommand", psEncode(script)}}, nil
	}
	// Linux and the other Unix systems. Speech Dispatcher comes first when
	// it is there: it speaks with the voice and rate the user chose for their
	// screen reader, and queues politely with it.
	if wav == "" {
		if p, err := look("spd-say"); err == nil {
			return speechCommand{Path: p, Args: []string{"--wait", "--", text}, Stop: []string{p, "--stop"}}, nil
		}
	}
	for _, name := range []string{"espeak-ng", "espeak"} {
		if p, err := look(name); err == nil {
			args := []string{"--stdin"}
			if wav != "" {
				args = append(args, "-w", wav)
			}
			return speechCommand{Path: p, Args: args, Stdin: text}, nil
		}
	}
	if wav != "" {
		return speechCommand{}, errors.New("writing speech to a file needs espeak-ng: install espeak-ng (sudo apt install espeak-ng)")
	}
	return speechCommand{}, errNoSpeech
}

// speechText is text made safe to speak: control characters (a NUL would
// end a C string early) become spaces, and very long text is cut.
func speechText(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxSpeechRunes {
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// psQuote writes s as a PowerShell single-quoted string, in which nothing is
// expanded. PowerShell also takes the typographic single quotes (U+2018 to
// U+201B) as quote marks, so each of them is doubled too, like '.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// psEncode is PowerShell's -EncodedCommand form of a script: base64 of its
// UTF-16LE encoding, so the command line holds only [A-Za-z0-9+/=].
func psEncode(script string) string {
	units := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		b[2*i], b[2*i+1] = byte(u), byte(u>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// command makes the exec.Cmd for c.
func (c speechCommand) command() *exec.Cmd {
	cmd := exec.Command(c.Path, c.Args...)
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	hideConsole(cmd)
	return cmd
}

// speakToFile writes text, spoken by the system's speech program, to a WAV
// file, and returns when it is written.
func speakToFile(text, wav string) error {
	c, err := speechCommandFor(runtime.GOOS, text, wav, exec.LookPath)
	if err != nil {
		return err
	}
	cmd := c.command()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s failed: %v %s", c.Path, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// speaker reads texts aloud one at a time: a new text, or Stop, silences the
// one being read. Its methods may be called from any goroutine.
type speaker struct {
	goos string
	look func(string) (string, error)

	mu   sync.Mutex
	cur  *exec.Cmd // the program speaking now; nil when silent
	stop []string  // cur's stop command
}

func newSpeaker() *speaker {
	return &speaker{goos: runtime.GOOS, look: exec.LookPath}
}

// Speak stops any speech in progress and starts reading text. It returns
// once the program has started; finished, if not nil, is called (on the
// speaker's goroutine) when it ends, with an error if it failed rather than
// being stopped.
func (s *speaker) Speak(text string, finished func(error)) error {
	c, err := speechCommandFor(s.goos, text, "", s.look)
	if err != nil {
		return err
	}
	s.Stop()
	cmd := c.command()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s to read aloud: %v", c.Path, err)
	}
	s.cur, s.stop = cmd, c.Stop
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		stopped := s.cur != cmd
		if !stopped {
			s.cur, s.stop = nil, nil
		}
		s.mu.Unlock()
		if finished == nil {
			return
		}
		if err != nil && !stopped {
			msg := strings.TrimSpace(stderr.String())
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			finished(fmt.Errorf("reading aloud failed (%s: %v) %s", c.Path, err, msg))
			return
		}
		finished(nil)
	}()
	return nil
}

// Speaking says whether a text is being read.
func (s *speaker) Speaking() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil
}

// Stop silences the text being read, if any.
func (s *speaker) Stop() {
	s.mu.Lock()
	cmd, stop := s.cur, s.stop
	s.cur, s.stop = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	if len(stop) > 0 {
		// Our spd-say was still waiting, so the message being spoken is ours.
		sc := exec.Command(stop[0], stop[1:]...)
		hideConsole(sc)
		sc.Run()
	}
}
