package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"glimpse/checkpoint/synthetic"
)

// envChildArgs makes this test binary the glimpse command line: when the
// variable holds a JSON list of arguments, TestMain runs Main with them on
// the process's own streams and exits with its code, before any test
// runs. Tests start such children to send them signals or kill them.
const envChildArgs = "GLIMPSE_CLI_TEST_ARGS"

// envTokenizers names the tokenizer source folder for the random-weight
// checkpoints at real size (scripts/fetch-tokenizers.sh; make test sets it).
const envTokenizers = "GLIMPSE_TOKENIZERS"

func TestMain(m *testing.M) {
	if args := os.Getenv(envChildArgs); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", envChildArgs, err)
			os.Exit(3)
		}
		os.Exit(Main(argv, Env{Version: "1.2.3", Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	code := m.Run()
	synth.mu.Lock()
	if synth.root != "" {
		os.RemoveAll(synth.root)
	}
	synth.mu.Unlock()
	os.Exit(code)
}

// child is the glimpse command line running in a child process, its
// output collected as it comes.
type child struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	out     bytes.Buffer // standard output so far
	err     bytes.Buffer // standard error so far
	changed chan struct{}
	done    chan struct{} // closed when the process has ended
	code    int
}

// startChild starts `glimpse args...` as a child process.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	argv, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), changed: make(chan struct{}, 1), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), envChildArgs+"="+string(argv))
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	for _, p := range []struct {
		r   interface{ Read([]byte) (int, error) }
		buf *bytes.Buffer
	}{{stdout, &c.out}, {stderr, &c.err}} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			b := make([]byte, 4096)
			for {
				n, err := p.r.Read(b)
				c.mu.Lock()
				p.buf.Write(b[:n])
				c.mu.Unlock()
				select {
				case c.changed <- struct{}{}:
				default:
				}
				if err != nil {
					return
				}
			}
		}()
	}
	go func() {
		readers.Wait() // the pipes must be drained before Wait closes them
		c.cmd.Wait()
		c.code = c.cmd.ProcessState.ExitCode()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// output returns what the child wrote so far.
func (c *child) output() (stdout, stderr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String(), c.err.String()
}

// waitFor waits until cond holds for the child's output, failing the test
// if the child ends first or d passes.
func (c *child) waitFor(t *testing.T, what string, d time.Duration, cond func(stdout, stderr string) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		if cond(c.output()) {
			return
		}
		select {
		case <-c.changed:
		case <-c.done:
			if cond(c.output()) {
				return
			}
			stdout, stderr := c.output()
			t.Fatalf("the child ended (exit %d) before %s\nstdout: %s\nstderr: %s", c.code, what, stdout, stderr)
		case <-deadline:
			stdout, stderr := c.output()
			t.Fatalf("no %s after %v\nstdout: %s\nstderr: %s", what, d, stdout, stderr)
		}
	}
}

// wait waits at most d for the child to end and returns its exit code.
func (c *child) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(d):
		stdout, stderr := c.output()
		t.Fatalf("the child still runs after %v\nstdout: %s\nstderr: %s", d, stdout, stderr)
		return 0
	}
}

// synth is the random-weight checkpoint at real width that the process
// tests load, written once per test binary (a one-layer Flan-T5-XL: 1.2 GB
// that take a few seconds to load, and real-size steps).
var synth struct {
	mu         sync.Mutex
	root, dir  string
	err        error
	tokenizers string
}

// syntheticModel returns the checkpoint's folder, writing it on first use.
// Without the tokenizer sources the test fails, saying how to get them: it
// must not pass without having run.
func syntheticModel(t *testing.T) string {
	t.Helper()
	src := os.Getenv(envTokenizers)
	if src == "" {
		t.Fatalf("%s is not set: run scripts/fetch-tokenizers.sh DIR and set %s=DIR (make test does both)", envTokenizers, envTokenizers)
	}
	if _, err := os.Stat(filepath.Join(src, synthetic.T5TokenizerDir, "tokenizer.json")); err != nil {
		t.Fatalf("%s=%s lacks the T5 tokenizer (%v): run scripts/fetch-tokenizers.sh %s", envTokenizers, src, err, src)
	}
	synth.mu.Lock()
	defer synth.mu.Unlock()
	if synth.dir == "" && synth.err == nil {
		synth.root, synth.err = os.MkdirTemp("", "glimpse-cli-synthetic-")
		if synth.err == nil {
			synth.dir = filepath.Join(synth.root, "flan-t5-xl-1-layer")
			synth.err = synthetic.Write(context.Background(), synth.dir, synthetic.Options{
				Model: "flan-t5-xl", Layers: 1, Seed: 15, Tokenizers: src, ShardBytes: 256 << 20})
		}
	}
	if synth.err != nil {
		t.Fatalf("writing the synthetic checkpoint: %v", synth.err)
	}
	return synth.dir
}
