package ui

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"glimpse/history"
)

// textScales are the text sizes offered, as percentages.
var textScales = []string{"80%", "100%", "120%", "150%", "200%"}

// themeNames maps the theme choices shown to their stored names.
var themeNames = map[string]string{"Light": ThemeLight, "Dark": ThemeDark, "High contrast": ThemeHighContrast}

// settingsView is the Settings tab: generation, look, data folder and Hub.
type settingsView struct {
	a *App

	beams, maxLen, maxNew, minLen, rep, lenPen *appEntry
	sample                                     *widget.Check
	temp, topP, topK, seed                     *appEntry
	backend                                    *widget.Select
	theme                                      *widget.RadioGroup
	textSize                                   *widget.Select
	dataFolder, hfToken, hfEndpoint            *appEntry
	errLabel                                   *widget.Label
	serve                                      *servePanel // other programs' access (serve.go)
	box                                        fyne.CanvasObject
}

func newSettingsView(a *App) *settingsView {
	v := &settingsView{a: a}
	num := func(label string) *appEntry { return newAppEntry(a, label, false) }
	v.beams, v.maxLen, v.maxNew, v.minLen = num("Beams"), num("Max length"), num("Max new tokens"), num("Min length")
	v.rep, v.lenPen = num("Repetition penalty"), num("Length penalty")
	v.sample = widget.NewCheck("Sample (instead of the most likely words)", nil)
	v.temp, v.topP, v.topK, v.seed = num("Temperature"), num("Top-p"), num("Top-k"), num("Seed")
	v.backend = widget.NewSelect([]string{"auto", "gl", "cpu"}, nil)
	v.theme = widget.NewRadioGroup([]string{"Light", "Dark", "High contrast"}, func(choice string) {
		if name, ok := themeNames[choice]; ok && name != a.settings.Theme {
			s := a.settings
			s.Theme = name
			a.setSettings(s)
		}
	})
	v.theme.Horizontal = true
	v.textSize = widget.NewSelect(textScales, func(choice string) {
		if f, err := strconv.ParseFloat(strings.TrimSuffix(choice, "%"), 64); err == nil && f/100 != a.settings.TextScale {
			s := a.settings
			s.TextScale = f / 100
			a.setSettings(s)
		}
	})
	v.dataFolder = num("Data folder")
	v.dataFolder.SetPlaceHolder("default: " + defaultDataDir())
	browse := widget.NewButtonWithIcon("Browse…", theme.FolderOpenIcon(), func() {
		openFolderDialog(a, func(p string, err error) {
			if err == nil && p != "" {
				v.dataFolder.SetText(p)
			}
		})
	})
	v.hfToken = num("Hugging Face token")
	v.hfToken.Password = true
	v.hfToken.SetPlaceHolder("hf_… (only for gated or private models)")
	v.hfEndpoint = num("Hugging Face endpoint")
	v.hfEndpoint.SetPlaceHolder("https://huggingface.co")
	v.errLabel = widget.NewLabel("")
	v.errLabel.Importance = widget.DangerImportance
	v.errLabel.Wrapping = fyne.TextWrapWord
	v.errLabel.Hide()
	apply := widget.NewButtonWithIcon("Apply", theme.ConfirmIcon(), v.apply)
	apply.Importance = widget.HighImportance
	reset := widget.NewButtonWithIcon("Restore defaults", theme.ViewRestoreIcon(), v.restore)

	item := widget.NewFormItem
	gen := widget.NewForm(
		item("Beams", v.beams), item("Max length", v.maxLen), item("Max new tokens", v.maxNew),
		item("Min length", v.minLen), item("Repetition penalty", v.rep), item("Length penalty", v.lenPen),
		item("", v.sample), item("Temperature", v.temp), item("Top-p", v.topP), item("Top-k", v.topK), item("Seed", v.seed),
		item("Backend", v.backend),
	)
	gen.Items[2].HintText = "0: max length applies"
	gen.Items[11].HintText = "gl: the GPU through OpenGL; cpu: slower, always works; auto: gl when it can"
	look := widget.NewForm(item("Theme", v.theme), item("Text size", v.textSize))
	data := widget.NewForm(
		item("Data folder", container.NewBorder(nil, nil, nil, browse, v.dataFolder)),
		item("Hugging Face token", v.hfToken), item("Hugging Face endpoint", v.hfEndpoint),
	)
	data.Items[0].HintText = "where the history is kept; takes effect at the next start"
	v.serve = newServePanel(a)
	heading := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	body := container.NewVBox(
		heading("Generation"), gen, widget.NewSeparator(),
		heading("Appearance"), look, widget.NewSeparator(),
		heading("Data and downloads"), data,
		v.errLabel, container.NewHBox(apply, reset), widget.NewSeparator(),
		// Takes effect at once, without Apply.
		heading("Other programs"), v.serve.object(),
	)
	v.box = container.NewVScroll(container.NewPadded(body))
	v.show(a.settings)
	return v
}

func (v *settingsView) object() fyne.CanvasObject { return v.box }

func defaultDataDir() string {
	if d, err := history.DataDir(); err == nil {
		return d
	}
	return "the platform's data folder"
}

// show fills the form from s.
func (v *settingsView) show(s Settings) {
	v.beams.SetText(strconv.Itoa(s.NumBeams))
	v.maxLen.SetText(strconv.Itoa(s.MaxLength))
	v.maxNew.SetText(strconv.Itoa(s.MaxNewTokens))
	v.minLen.SetText(strconv.Itoa(s.MinLength))
	v.rep.SetText(fmtFloat(s.RepetitionPenalty))
	v.lenPen.SetText(fmtFloat(s.LengthPenalty))
	v.sample.SetChecked(s.DoSample)
	v.temp.SetText(fmtFloat(s.Temperature))
	v.topP.SetText(fmtFloat(s.TopP))
	v.topK.SetText(strconv.Itoa(s.TopK))
	v.seed.SetText(strconv.FormatUint(s.Seed, 10))
	v.backend.SetSelected(s.Backend)
	for label, name := range themeNames {
		if name == s.Theme {
			v.theme.SetSelected(label)
		}
	}
	v.textSize.SetSelected(fmt.Sprintf("%d%%", int(s.TextScale*100+0.5)))
	v.dataFolder.SetText(s.DataFolder)
	v.hfToken.SetText(s.HFToken)
	v.hfEndpoint.SetText(s.HFEndpoint)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// read parses the form into settings, naming each field that is not a number.
func (v *settingsView) read() (Settings, error) {
	s := v.a.settings
	var bad []string
	ints := []struct {
		e   *appEntry
		dst *int
	}{{v.beams, &s.NumBeams}, {v.maxLen, &s.MaxLength}, {v.maxNew, &s.MaxNewTokens}, {v.minLen, &s.MinLength}, {v.topK, &s.TopK}}
	for _, f := range ints {
		n, err := strconv.Atoi(strings.TrimSpace(f.e.Text))
		if err != nil {
			bad = append(bad, f.e.label+" must be a whole number")
			continue
		}
		*f.dst = n
	}
	floats := []struct {
		e   *appEntry
		dst *float64
	}{{v.rep, &s.RepetitionPenalty}, {v.lenPen, &s.LengthPenalty}, {v.temp, &s.Temperature}, {v.topP, &s.TopP}}
	for _, f := range floats {
		x, err := strconv.ParseFloat(strings.TrimSpace(f.e.Text), 64)
		if err != nil {
			bad = append(bad, f.e.label+" must be a number")
			continue
		}
		*f.dst = x
	}
	seed, err := strconv.ParseUint(strings.TrimSpace(v.seed.Text), 10, 64)
	if err != nil {
		bad = append(bad, "Seed must be a whole number of 0 or more")
	}
	s.Seed = seed
	s.DoSample = v.sample.Checked
	s.Backend = v.backend.Selected
	s.DataFolder = strings.TrimSpace(v.dataFolder.Text)
	s.HFToken = strings.TrimSpace(v.hfToken.Text)
	s.HFEndpoint = strings.TrimSpace(v.hfEndpoint.Text)
	if s.HFEndpoint != "" && !strings.HasPrefix(s.HFEndpoint, "http://") && !strings.HasPrefix(s.HFEndpoint, "https://") {
		bad = append(bad, "the endpoint must start with https:// (or http:// for a local mirror)")
	}
	if len(bad) > 0 {
		return s, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return s, s.Validate()
}

// apply checks and stores the form.
func (v *settingsView) apply() {
	s, err := v.read()
	if err != nil {
		v.errLabel.SetText("Not saved: " + err.Error() + ".")
		v.errLabel.Show()
		return
	}
	v.errLabel.Hide()
	old := v.a.settings
	v.a.setSettings(s)
	if old.HFToken != s.HFToken || old.HFEndpoint != s.HFEndpoint {
		v.a.models.setConfig(s.Download())
	}
	msg := "Settings saved"
	if old.DataFolder != s.DataFolder {
		msg += "; the new data folder is used from the next start"
	}
	v.a.status.flash(msg)
}

// restore puts the seed's defaults in the form (Apply stores them); the
// model, look, folder and Hub settings stay.
func (v *settingsView) restore() {
	d := DefaultSettings()
	cur := v.a.settings
	d.Model, d.Precision, d.Theme, d.TextScale = cur.Model, cur.Precision, cur.Theme, cur.TextScale
	d.DataFolder, d.HFToken, d.HFEndpoint = cur.DataFolder, cur.HFToken, cur.HFEndpoint
	v.show(d)
}
