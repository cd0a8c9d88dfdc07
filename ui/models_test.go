package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"glimpse/downloads/hubtest"
)

// TestModelManagerDownload downloads a model from the stand-in Hub through
// the model manager: the endpoint and token come from the Settings form, the
// card shows progress (bytes, speed), pauses and resumes, and the finished
// model is verified, made active (it is the first), and deleted again.
func TestModelManagerDownload(t *testing.T) {
	const token = "hf_ui_test_token"
	h := hubtest.New()
	t.Cleanup(h.Close)
	h.SetToken(token)
	h.Throttle(256 << 10) // slow enough to watch, pause and cancel; lifted for the rest
	// vicuna-13b is the catalogue entry pinned to "main", which the stand-in
	// serves; its files here are the tiny fixture's.
	if _, err := h.AddDir("Salesforce/instructblip-vicuna-13b", tinyVicuna); err != nil {
		t.Fatal(err)
	}
	a, q := testApp(t, nil)
	a.showTab("Settings")
	a.setView.hfEndpoint.SetText(h.URL)
	a.setView.hfToken.SetText(token)
	a.setView.apply()
	if a.setView.errLabel.Visible() {
		t.Fatalf("settings refused: %s", a.setView.errLabel.Text)
	}

	a.showTab("Models")
	c := a.models.cards["instructblip-vicuna-13b"]
	if c.state.Text != "Not installed" || c.pullB.Disabled() || !c.useB.Disabled() {
		t.Fatalf("before: state %q, download enabled %v", c.state.Text, !c.pullB.Disabled())
	}
	test.Tap(c.pullB)
	pump(t, q, time.Minute, "download progress", func() bool {
		return c.bar.Value > 0 && c.bar.Value < 1 && strings.Contains(c.detail.Text, "/s")
	})
	if !strings.Contains(c.detail.Text, " of ") || c.cancelB.Disabled() || c.pauseB.Disabled() {
		t.Errorf("during the download: detail %q, cancel enabled %v", c.detail.Text, !c.cancelB.Disabled())
	}
	test.Tap(c.pauseB)
	if c.state.Text != "Paused" || c.pauseB.Text != "Resume" {
		t.Errorf("after Pause: state %q, button %q", c.state.Text, c.pauseB.Text)
	}
	held := c.bar.Value
	deadline := time.Now().Add(300 * time.Millisecond)
	pump(t, q, time.Second, "a moment paused", func() bool { return time.Now().After(deadline) })
	if c.bar.Value > held+0.05 {
		t.Errorf("progress went on while paused: %v → %v", held, c.bar.Value)
	}
	test.Tap(c.pauseB)
	pump(t, q, time.Minute, "progress after Resume", func() bool { return c.bar.Value > held && c.state.Text == "Downloading" })

	// Cancel keeps what was fetched; Resume goes on from there.
	test.Tap(c.cancelB)
	pump(t, q, time.Minute, "the cancel", func() bool { return c.cancel == nil })
	pump(t, q, 10*time.Second, "the partial state", func() bool { return strings.HasPrefix(c.state.Text, "Partly downloaded") })
	if !strings.HasPrefix(c.detail.Text, "Cancelled") || c.pullB.Text != "Resume" || a.models.errLabel.Visible() {
		t.Errorf("after Cancel: detail %q, button %q, error %q", c.detail.Text, c.pullB.Text, a.models.errLabel.Text)
	}
	_, servedBefore := h.Served()
	h.Throttle(0)
	test.Tap(c.pullB)
	pump(t, q, 2*time.Minute, "the download to finish", func() bool { return c.cancel == nil })
	if a.models.errLabel.Visible() {
		t.Fatalf("error: %s", a.models.errLabel.Text)
	}
	pump(t, q, 10*time.Second, "the installed list", func() bool { return strings.HasPrefix(c.state.Text, "Installed") })
	if a.settings.Model != "instructblip-vicuna-13b" || !strings.Contains(c.state.Text, "active") {
		t.Errorf("first model not made active: settings %q, state %q", a.settings.Model, c.state.Text)
	}
	for _, r := range h.Requests() {
		if r.Host == strings.TrimPrefix(h.URL, "http://") && r.Authorization != "Bearer "+token {
			t.Errorf("request %s %s went without the settings' token (%q)", r.Method, r.Path, r.Authorization)
			break
		}
	}

	if _, served := h.Served(); served-servedBefore >= c.inst.Total {
		t.Errorf("Resume fetched %d bytes of %d: the cancelled download's bytes were not kept", served-servedBefore, c.inst.Total)
	}

	test.Tap(c.verifyB)
	pump(t, q, time.Minute, "verification", func() bool { return c.cancel == nil && c.detail.Text == "Every file verified." })

	// A damaged file: Verify says so, and removes it for Resume to fetch.
	shard := filepath.Join(c.inst.Dir, "model-00001-of-00007.safetensors")
	f, err := os.OpenFile(shard, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff, 0xff}, 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Logf("damaged %s", shard)
	test.Tap(c.verifyB)
	pump(t, q, 20*time.Second, "the failed verification", func() bool { return c.cancel == nil && a.models.errLabel.Visible() })
	if msg := a.models.errLabel.Text; !strings.Contains(msg, "found a problem") || !strings.Contains(msg, "Resume") {
		t.Errorf("verification error %q", msg)
	}
	pump(t, q, 10*time.Second, "the card to offer Resume", func() bool { return c.pullB.Text == "Resume" && !c.pullB.Disabled() })

	c.doRemove()
	pump(t, q, 10*time.Second, "the removal", func() bool { return c.state.Text == "Not installed" })
	if a.settings.Model != "" {
		t.Errorf("deleted model still active: %q", a.settings.Model)
	}
}

// TestModelManagerErrors shows failed downloads in the window, with advice.
func TestModelManagerErrors(t *testing.T) {
	h := hubtest.New()
	t.Cleanup(h.Close)
	h.SetToken("hf_right")
	if _, err := h.AddDir("someone/tiny", tinyVicuna); err != nil {
		t.Fatal(err)
	}
	a, q := testApp(t, nil)
	s := a.settings
	s.HFEndpoint, s.HFToken = h.URL, "hf_wrong"
	a.setSettings(s)
	a.models.setConfig(s.Download())
	cases := []struct{ name, advice string }{
		{"someone/tiny", "Hugging Face token in Settings"},
		{"", "Type a model as ORG/NAME"},
		{"not a name!", ""},
	}
	for _, c := range cases {
		a.models.clearError()
		a.models.other.SetText(c.name)
		a.models.pullOther()
		pump(t, q, time.Minute, "the error for "+c.name, func() bool {
			for _, card := range a.models.cards {
				if card.cancel != nil {
					return false
				}
			}
			return a.models.errLabel.Visible()
		})
		if !strings.Contains(a.models.errLabel.Text, c.advice) {
			t.Errorf("%q: error %q, want advice %q", c.name, a.models.errLabel.Text, c.advice)
		}
	}
}
