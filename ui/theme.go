package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// appTheme is Fyne's default theme with a fixed variant (light or dark), or
// a high-contrast palette, and text scaled by the user's text size.
type appTheme struct {
	name  string  // ThemeLight, ThemeDark or ThemeHighContrast
	scale float32 // text size factor
}

// newTheme returns the theme named in the settings; unknown names get light.
func newTheme(name string, scale float64) fyne.Theme {
	if scale <= 0 {
		scale = 1
	}
	return &appTheme{name: name, scale: float32(scale)}
}

// highContrast is a black background with white text, and yellow for
// focus, selection and the primary colour: the pairing high-contrast modes of
// Windows and GNOME use, well above WCAG's 7:1 for text.
var highContrast = map[fyne.ThemeColorName]color.Color{
	theme.ColorNameBackground:          color.Black,
	theme.ColorNameForeground:          color.White,
	theme.ColorNameButton:              color.RGBA{0x30, 0x30, 0x30, 0xff}, // buttons stand out; white on it is 13:1
	theme.ColorNameInputBackground:     color.Black,
	theme.ColorNameInputBorder:         color.White,
	theme.ColorNameMenuBackground:      color.RGBA{0x20, 0x20, 0x20, 0xff}, // dialogs and menus stand apart from the window
	theme.ColorNameOverlayBackground:   color.RGBA{0x20, 0x20, 0x20, 0xff},
	theme.ColorNameHeaderBackground:    color.Black,
	theme.ColorNamePrimary:             color.RGBA{0xff, 0xff, 0x00, 0xff},
	theme.ColorNameFocus:               color.RGBA{0xff, 0xff, 0x00, 0xff},
	theme.ColorNameSelection:           color.RGBA{0x80, 0x80, 0x00, 0xff},
	theme.ColorNameHover:               color.RGBA{0x40, 0x40, 0x40, 0xff},
	theme.ColorNamePressed:             color.RGBA{0x60, 0x60, 0x00, 0xff},
	theme.ColorNameDisabled:            color.RGBA{0xc0, 0xc0, 0xc0, 0xff},
	theme.ColorNameDisabledButton:      color.RGBA{0x30, 0x30, 0x30, 0xff},
	theme.ColorNamePlaceHolder:         color.RGBA{0xd0, 0xd0, 0xd0, 0xff},
	theme.ColorNameSeparator:           color.White,
	theme.ColorNameScrollBar:           color.White,
	theme.ColorNameForegroundOnPrimary: color.Black,
	theme.ColorNameHyperlink:           color.RGBA{0x00, 0xff, 0xff, 0xff},
	theme.ColorNameError:               color.RGBA{0xff, 0x60, 0x60, 0xff},
	theme.ColorNameSuccess:             color.RGBA{0x60, 0xff, 0x60, 0xff},
	theme.ColorNameWarning:             color.RGBA{0xff, 0xb0, 0x00, 0xff},
}

func (t *appTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	switch t.name {
	case ThemeHighContrast:
		if c, ok := highContrast[n]; ok {
			return c
		}
		return theme.DefaultTheme().Color(n, theme.VariantDark)
	case ThemeDark:
		return theme.DefaultTheme().Color(n, theme.VariantDark)
	default:
		return theme.DefaultTheme().Color(n, theme.VariantLight)
	}
}

func (t *appTheme) Font(s fyne.TextStyle) fyne.Resource { return theme.DefaultTheme().Font(s) }

func (t *appTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }

func (t *appTheme) Size(n fyne.ThemeSizeName) float32 {
	s := theme.DefaultTheme().Size(n)
	switch n {
	case theme.SizeNameText, theme.SizeNameHeadingText, theme.SizeNameSubHeadingText,
		theme.SizeNameCaptionText, theme.SizeNameInlineIcon:
		return s * t.scale
	case theme.SizeNameInputBorder:
		if t.name == ThemeHighContrast {
			return s * 2 // a focus ring that cannot be missed
		}
	}
	return s
}
