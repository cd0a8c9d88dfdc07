package serve

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"glimpse/app"
	"glimpse/input/imageproc"
)

// imageFromURL reads the image an OpenAI image_url names: a data: URL with
// base64 content, or a file:// URL inside the folders the server allows.
// The server never fetches http(s) URLs: a local model should not make
// requests on a client's behalf.
func (s *Server) imageFromURL(ref, param string) (*app.Image, error) {
	switch scheme, _, _ := strings.Cut(ref, ":"); strings.ToLower(scheme) {
	case "data":
		return s.imageFromDataURL(ref, param)
	case "file":
		return s.imageFromFileURL(ref, param)
	case "http", "https":
		return nil, badRequest(param, "unsupported_image_url",
			"%s: Glimpse does not fetch images from the web; send the image itself as a data: URL (data:image/png;base64,…)", param)
	}
	return nil, badRequest(param, "unsupported_image_url",
		"%s must be a data: URL (data:image/png;base64,…) or, where the server allows local files, a file:// URL", param)
}

// imageFromDataURL decodes data:[<type>][;base64],<data>.
func (s *Server) imageFromDataURL(ref, param string) (*app.Image, error) {
	meta, data, ok := strings.Cut(ref[len("data:"):], ",")
	if !ok || !strings.HasSuffix(strings.ToLower(meta), ";base64") {
		return nil, badRequest(param, "invalid_image", "%s: only base64 data: URLs are understood (data:image/png;base64,…)", param)
	}
	return s.imageFromBase64(data, param)
}

// imageFromBase64 decodes an image sent as base64 (Ollama's images, the
// body of a data: URL). The size is checked before decoding anything, and
// the pixel count from the image's header before its pixels are decoded
// (imageproc's check), so neither a huge upload nor a decompression bomb
// takes memory.
func (s *Server) imageFromBase64(b64, param string) (*app.Image, error) {
	if s.opt.MaxImageBytes > 0 && int64(base64.StdEncoding.DecodedLen(len(b64))) > s.opt.MaxImageBytes+3 {
		return nil, s.imageTooLarge(param)
	}
	// Standard base64, padded or not; some clients leave the padding off.
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
	}
	if err != nil {
		return nil, badRequest(param, "invalid_image", "%s is not valid base64: %v", param, err)
	}
	if s.opt.MaxImageBytes > 0 && int64(len(data)) > s.opt.MaxImageBytes {
		return nil, s.imageTooLarge(param)
	}
	return decodeImage("image", data, param)
}

func (s *Server) imageTooLarge(param string) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, typ: typeInvalid, param: param, code: "image_too_large",
		msg: fmt.Sprintf("%s is over the server's image limit of %s", param, mib(s.opt.MaxImageBytes))}
}

// decodeImage decodes an image file's bytes for a question.
func decodeImage(name string, data []byte, param string) (*app.Image, error) {
	img, format, err := imageproc.DecodeBytes(data)
	if err != nil {
		e := toAPIError(err)
		e.param = param
		e.msg = fmt.Sprintf("%s is not an image Glimpse can read: %v", param, err)
		if errors.Is(err, imageproc.ErrTooLarge) {
			e.msg = fmt.Sprintf("%s is too large to decode: %v", param, err)
		} else if e.status == http.StatusInternalServerError {
			// A damaged file: imageproc's errors for those have no kind.
			e.status, e.typ, e.code = http.StatusBadRequest, typeInvalid, "invalid_image"
		}
		return nil, e
	}
	if format != "" && name == "image" {
		name += "." + format
	}
	return &app.Image{Name: name, Data: data, Image: img}, nil
}

// imageFromFileURL reads a file:// image, when the server allows local
// files, from inside the allowed folders only.
func (s *Server) imageFromFileURL(ref, param string) (*app.Image, error) {
	if len(s.roots) == 0 {
		return nil, &apiError{status: http.StatusForbidden, typ: typeInvalid, param: param, code: "files_not_allowed",
			msg: fmt.Sprintf("%s: this server does not read local files; send the image as a data: URL, or start the server with --allow-files FOLDER", param)}
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
		return nil, badRequest(param, "invalid_image", "%s is not a file:// URL of a local file (file:///path/to/image.png)", param)
	}
	path := u.Path
	if runtime.GOOS == "windows" && len(path) > 2 && path[0] == '/' && path[2] == ':' {
		path = path[1:] // file:///C:/x is C:/x
	}
	path = filepath.Clean(filepath.FromSlash(path))
	real, err := s.allowedFile(path)
	if err != nil {
		e := toAPIError(err)
		e.param = param
		return nil, e
	}
	st, err := os.Stat(real)
	switch {
	case err != nil:
		return nil, badRequest(param, "invalid_image", "%s cannot be read: %v", path, userErr(err))
	case !st.Mode().IsRegular():
		return nil, badRequest(param, "invalid_image", "%s is not a plain file", path)
	case s.opt.MaxImageBytes > 0 && st.Size() > s.opt.MaxImageBytes:
		return nil, s.imageTooLarge(param)
	}
	img, err := app.LoadImage(real)
	if err != nil {
		e := toAPIError(err)
		e.param = param
		return nil, e
	}
	img.Path, img.Name = path, filepath.Base(path)
	return img, nil
}

// allowedFile returns path with its links resolved when it lies inside
// one of the allowed folders (themselves resolved when the server
// started). The lexical check comes first, so that a client cannot learn
// whether files outside the folders exist; the check after resolving
// catches links that lead out of them.
func (s *Server) allowedFile(path string) (string, error) {
	forbidden := &apiError{status: http.StatusForbidden, typ: typeInvalid, code: "file_not_allowed",
		msg: fmt.Sprintf("%s is outside the folders this server reads images from (%s)", path, strings.Join(s.opt.AllowFiles, ", "))}
	if !filepath.IsAbs(path) {
		return "", badRequest("", "invalid_image", "%s: a file:// URL needs an absolute path", path)
	}
	inside := func(p string, roots []string) bool {
		for _, root := range roots {
			if rel, err := filepath.Rel(root, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
				return true
			}
		}
		return false
	}
	if !inside(path, s.roots) && !inside(path, s.rootsAsGiven) {
		return "", forbidden
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", badRequest("", "invalid_image", "%s cannot be read: %v", path, userErr(err))
	}
	if !inside(real, s.roots) {
		return "", forbidden
	}
	return real, nil
}

// userErr drops the path from a file error whose message already names it.
func userErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
