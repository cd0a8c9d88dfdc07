package ui

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

// TestServeSwitch drives Settings' "Let other programs use Glimpse": with
// saving switched on, the switch starts the server of `glimpse serve` for
// the active model and shows its address; a program's question there gets
// transformers' greedy answer and is saved in the history; switching off
// stops the server and the address goes.
func TestServeSwitch(t *testing.T) {
	a, q := testApp(t, withTinyModel)
	p := a.setView.serve
	p.listen = "127.0.0.1:0" // a free port, not the default one
	if p.on.Checked || !strings.HasPrefix(p.status.Text, "Off") {
		t.Fatalf("the switch starts on (%v), status %q", p.on.Checked, p.status.Text)
	}
	test.Tap(p.record)
	test.Tap(p.on)
	if p.srv == nil {
		t.Fatalf("no server after switching on: %q", p.status.Text)
	}
	url := p.srv.URL()
	if !strings.Contains(p.status.Text, url) || !strings.Contains(p.status.Text, url+"/v1") {
		t.Errorf("status %q does not show the address %s", p.status.Text, url)
	}
	if !p.record.Disabled() {
		t.Error("saving can be switched while the server runs")
	}

	g := loadGolden(t)
	img, err := os.ReadFile(filepath.Join(fixtures, "images", g.Image))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"model": "tiny-instructblip-vicuna", "prompt": g.Prompt, "stream": false,
		"images":  []string{base64.StdEncoding.EncodeToString(img)},
		"options": map[string]any{"num_beams": 1, "num_predict": 24, "repeat_penalty": 1}})
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Post(url+"/api/generate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var r struct {
		Response string `json:"response"`
	}
	want := strings.TrimPrefix(g.Generate["greedy"].Text, g.Prompt)
	if err := json.Unmarshal(b, &r); err != nil || r.Response != want {
		t.Errorf("a program's question: %d %s, want %q", resp.StatusCode, b, want)
	}
	convs, err := a.store.Recent(context.Background(), 10)
	if err != nil || len(convs) != 1 {
		t.Errorf("%d conversations saved (%v), want the program's question", len(convs), err)
	}

	test.Tap(p.on)
	pump(t, q, 20*time.Second, "the server to stop", func() bool { return strings.HasPrefix(p.status.Text, "Off") })
	if _, err := client.Get(url + "/api/version"); err == nil {
		t.Error("the server still answers after switching off")
	}
	if p.record.Disabled() {
		t.Error("saving cannot be switched after the server stopped")
	}
}

// TestServeSwitchWithoutModel: with no active model, the switch says to
// choose one and stays off.
func TestServeSwitchWithoutModel(t *testing.T) {
	a, _ := testApp(t, nil)
	p := a.setView.serve
	p.listen = "127.0.0.1:0"
	test.Tap(p.on)
	if p.on.Checked || p.srv != nil || !strings.Contains(p.status.Text, "Choose a model") {
		t.Errorf("switched on without a model: on %v, status %q", p.on.Checked, p.status.Text)
	}
}
