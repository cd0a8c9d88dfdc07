package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"glimpse/app"
	"glimpse/input/imageproc"
)

// apiError is what a client is told when a request fails: a status code
// that says what went wrong, a message for people, and OpenAI's type, param
// and code, which the Ollama format leaves out. The cause is logged, never
// sent: a client sees no stack trace and no internals.
type apiError struct {
	status     int
	msg        string
	typ        string // OpenAI's error type: invalid_request_error, …
	param      string // the request field at fault, if any
	code       string // a stable word for programs: invalid_image, …
	retryAfter int    // seconds, sent as Retry-After when positive
	cause      error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.cause }

// OpenAI's error types.
const (
	typeInvalid   = "invalid_request_error"
	typeAuth      = "authentication_error"
	typeNotFound  = "not_found_error"
	typeRateLimit = "rate_limit_error"
	typeServer    = "server_error"
)

// badRequest is a 400 for a request field that cannot be used.
func badRequest(param, code, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: typeInvalid, param: param, code: code, msg: fmt.Sprintf(format, a...)}
}

// errClientGone ends a handler whose client disconnected: there is no one
// to answer.
var errClientGone = errors.New("the client went away")

// toAPIError words err for a client, choosing the status by the error's
// kind (app's typed errors), never by its message.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	msg := err.Error()
	e := func(status int, typ, code string) *apiError {
		return &apiError{status: status, typ: typ, code: code, msg: msg, cause: err}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, typ: typeInvalid, code: "request_too_large", cause: err,
			msg: fmt.Sprintf("the request body is over the server's limit of %s", mib(mbe.Limit))}
	case errors.Is(err, app.ErrBadSetting):
		return e(http.StatusBadRequest, typeInvalid, "invalid_setting")
	case errors.Is(err, imageproc.ErrTooLarge):
		return e(http.StatusRequestEntityTooLarge, typeInvalid, "image_too_large")
	case errors.Is(err, app.ErrUnreadableImage), errors.Is(err, imageproc.ErrNotImage):
		return e(http.StatusBadRequest, typeInvalid, "invalid_image")
	case errors.Is(err, app.ErrNoModel), errors.Is(err, app.ErrModelNotFound):
		return e(http.StatusNotFound, typeNotFound, "model_not_found")
	case errors.Is(err, app.ErrModelIncomplete):
		return e(http.StatusInternalServerError, typeServer, "model_incomplete")
	case errors.Is(err, app.ErrOutOfMemory):
		return e(http.StatusServiceUnavailable, typeServer, "out_of_memory")
	case errors.Is(err, app.ErrBackendUnavailable):
		return e(http.StatusServiceUnavailable, typeServer, "backend_unavailable")
	case errors.Is(err, app.ErrCancelled), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client is gone (then nobody reads this) or the server is
		// stopping.
		return &apiError{status: http.StatusServiceUnavailable, typ: typeServer, code: "stopped", cause: err,
			msg: "the question was stopped: the server is shutting down"}
	}
	return &apiError{status: http.StatusInternalServerError, typ: typeServer, code: "internal_error", cause: err,
		msg: "Glimpse could not answer: " + msg}
}

// jsonError words a body that does not decode: not JSON at all, or a
// field of the wrong type, named by its path in the request.
func jsonError(err error) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return toAPIError(err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return badRequest("", "invalid_json", "the request body must be a JSON object, not %s", te.Value)
		}
		// The path names the embedded genSettings, which the client
		// never sees.
		field := strings.ReplaceAll(te.Field, "genSettings.", "")
		return badRequest(field, "invalid_type", "%s must be %s, not %s", field, jsonKind(te.Type), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest("", "invalid_json", "the request body is not valid JSON (at byte %d): %v", se.Offset, se)
	}
	return badRequest("", "invalid_json", "the request body is not valid JSON: %v", err)
}

// jsonUnmarshal decodes a request body.
func jsonUnmarshal(body []byte, v any) error { return json.Unmarshal(body, v) }

// jsonKind names a Go type the way a JSON author knows it.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// api is one of the two APIs the server speaks; each has its own error
// format.
type api int

const (
	openAI api = iota
	ollama
)

// writeError answers err in the API's error format: OpenAI's
// {"error":{"message","type","param","code"}} or Ollama's {"error":"…"}.
func (a api) writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, a.errorBody(e))
}

// errorBody is err as the API writes it, also inside a stream.
func (a api) errorBody(e *apiError) any {
	if a == ollama {
		return map[string]string{"error": e.msg}
	}
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: e.msg, Type: e.typ}
	if b.Type == "" {
		b.Type = typeInvalid
	}
	if e.param != "" {
		b.Param = &e.param
	}
	if e.code != "" {
		b.Code = &e.code
	}
	return map[string]body{"error": b}
}

// writeJSON writes v as the whole response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		// Only non-finite numbers fail, and the server never makes them.
		panic(fmt.Sprintf("serve: %v", err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// marshal is json.Marshal without HTML escaping (answers may hold < and
// &), ending in a newline as NDJSON needs.
func marshal(v any) ([]byte, error) {
	var buf jsonBuffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf, nil
}

type jsonBuffer []byte

func (b *jsonBuffer) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// mib writes a byte count for people.
func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
