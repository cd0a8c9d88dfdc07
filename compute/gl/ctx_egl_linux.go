//go:build linux && !glimpse_glfw

package gl

/*
#cgo LDFLAGS: -lEGL
#include <stdlib.h>
#include <string.h>
#include <EGL/egl.h>
#include <EGL/eglext.h>

// hasExt reports whether the space-separated extension list has name.
static int hasExt(const char *list, const char *name) {
	if (list == NULL) return 0;
	size_t n = strlen(name);
	const char *p = list;
	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
		p += n;
	}
	return 0;
}

// makeContext creates a headless OpenGL 4.3+ core context on dpy and makes
// it current without a surface. It returns 0 on success or the EGL error.
static EGLint makeContext(EGLDisplay dpy, EGLContext *out) {
	EGLint major, minor;
	if (!eglInitialize(dpy, &major, &minor)) return eglGetError();
	const char *ext = eglQueryString(dpy, EGL_EXTENSIONS);
	if (!hasExt(ext, "EGL_KHR_surfaceless_context")) {
		eglTerminate(dpy);
		return EGL_BAD_SURFACE;
	}
	if (!eglBindAPI(EGL_OPENGL_API)) {
		EGLint e = eglGetError();
		eglTerminate(dpy);
		return e;
	}
	EGLConfig cfg = EGL_NO_CONFIG_KHR;
	if (!hasExt(ext, "EGL_KHR_no_config_context")) {
		// Without config-less contexts any OpenGL-capable config will do: the
		// context never draws to a surface.
		EGLint attrs[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_SURFACE_TYPE, EGL_DONT_CARE, EGL_NONE};
		EGLint n = 0;
		if (!eglChooseConfig(dpy, attrs, &cfg, 1, &n) || n < 1) {
			eglTerminate(dpy);
			return EGL_BAD_CONFIG;
		}
	}
	// Ask for 4.3 and take what comes: asking Mesa for 4.6 fails with
	// EGL_BAD_MATCH although it then hands out 4.5 for a 4.3 request.
	EGLint cattrs[] = {
		EGL_CONTEXT_MAJOR_VERSION, 4,
		EGL_CONTEXT_MINOR_VERSION, 3,
		EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
		EGL_NONE,
	};
	EGLContext ctx = eglCreateContext(dpy, cfg, EGL_NO_CONTEXT, cattrs);
	if (ctx == EGL_NO_CONTEXT) {
		EGLint e = eglGetError();
		eglTerminate(dpy);
		return e;
	}
	if (!eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, ctx)) {
		EGLint e = eglGetError();
		eglDestroyContext(dpy, ctx);
		eglTerminate(dpy);
		return e;
	}
	*out = ctx;
	return 0;
}

// isSoftware reports whether an EGL device is a software renderer (Mesa's
// llvmpipe device), which a machine with a GPU should not pick first.
static int isSoftware(EGLDeviceEXT dev) {
	PFNEGLQUERYDEVICESTRINGEXTPROC queryString = (PFNEGLQUERYDEVICESTRINGEXTPROC)eglGetProcAddress("eglQueryDeviceStringEXT");
	if (queryString == NULL) return 0;
	return hasExt(queryString(dev, EGL_EXTENSIONS), "EGL_MESA_device_software");
}

// openDevice tries the EGL devices (EGL_EXT_platform_device: NVIDIA's
// driver without an X server), hardware ones before software ones, and
// returns 0 with the first that gives a context, or the last EGL error (-1
// when the platform is missing).
static EGLint openDevice(EGLDisplay *dpy, EGLContext *ctx) {
	const char *cext = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
	if (!hasExt(cext, "EGL_EXT_platform_device")) return -1;
	PFNEGLQUERYDEVICESEXTPROC queryDevices = (PFNEGLQUERYDEVICESEXTPROC)eglGetProcAddress("eglQueryDevicesEXT");
	PFNEGLGETPLATFORMDISPLAYEXTPROC getDisplay = (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	if (queryDevices == NULL || getDisplay == NULL) return -1;
	EGLDeviceEXT devs[16];
	EGLint n = 0;
	if (!queryDevices(16, devs, &n) || n < 1) return -1;
	EGLint last = -1;
	for (int software = 0; software <= 1; software++) {
		for (EGLint i = 0; i < n; i++) {
			if (isSoftware(devs[i]) != software) continue;
			EGLDisplay d = getDisplay(EGL_PLATFORM_DEVICE_EXT, devs[i], NULL);
			if (d == EGL_NO_DISPLAY) continue;
			last = makeContext(d, ctx);
			if (last == 0) {
				*dpy = d;
				return 0;
			}
		}
	}
	return last;
}

// openSurfaceless uses Mesa's surfaceless platform (llvmpipe in CI).
static EGLint openSurfaceless(EGLDisplay *dpy, EGLContext *ctx) {
	const char *cext = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
	if (!hasExt(cext, "EGL_MESA_platform_surfaceless")) return -1;
	PFNEGLGETPLATFORMDISPLAYEXTPROC getDisplay = (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	if (getDisplay == NULL) return -1;
	EGLDisplay d = getDisplay(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
	if (d == EGL_NO_DISPLAY) return eglGetError();
	EGLint e = makeContext(d, ctx);
	if (e == 0) *dpy = d;
	return e;
}

static void closeContext(EGLDisplay dpy, EGLContext ctx) {
	eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	eglDestroyContext(dpy, ctx);
	eglTerminate(dpy);
}

static void *procAddress(const char *name) { return (void *)eglGetProcAddress(name); }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// eglContext is a headless OpenGL context made current on the calling
// (locked) OS thread.
type eglContext struct {
	dpy      C.EGLDisplay
	ctx      C.EGLContext
	platform string
}

// newPlatformContext makes a headless OpenGL 4.3+ core context current on the
// calling thread, which must be locked to its goroutine: EGL's device platform
// first (a GPU without an X server), then Mesa's surfaceless platform.
func newPlatformContext() (platformContext, error) {
	var c eglContext
	e1 := C.openDevice(&c.dpy, &c.ctx)
	if e1 == 0 {
		c.platform = "EGL device"
		return &c, nil
	}
	e2 := C.openSurfaceless(&c.dpy, &c.ctx)
	if e2 == 0 {
		c.platform = "EGL surfaceless"
		return &c, nil
	}
	return nil, fmt.Errorf("no OpenGL 4.3 core context through EGL (device platform: %s; Mesa surfaceless platform: %s)",
		eglError(e1), eglError(e2))
}

func (c *eglContext) procAddress(name string) unsafe.Pointer {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.procAddress(cs)
}

func (c *eglContext) name() string { return c.platform }

func (c *eglContext) destroy() { C.closeContext(c.dpy, c.ctx) }

// eglError names an EGL error code; -1 means the platform is not offered.
func eglError(e C.EGLint) string {
	names := map[C.EGLint]string{
		-1:                    "not available",
		C.EGL_NOT_INITIALIZED: "EGL_NOT_INITIALIZED",
		C.EGL_BAD_ACCESS:      "EGL_BAD_ACCESS",
		C.EGL_BAD_ALLOC:       "EGL_BAD_ALLOC",
		C.EGL_BAD_ATTRIBUTE:   "EGL_BAD_ATTRIBUTE",
		C.EGL_BAD_CONFIG:      "EGL_BAD_CONFIG (no OpenGL config)",
		C.EGL_BAD_CONTEXT:     "EGL_BAD_CONTEXT",
		C.EGL_BAD_DISPLAY:     "EGL_BAD_DISPLAY",
		C.EGL_BAD_MATCH:       "EGL_BAD_MATCH (OpenGL 4.3 core not supported)",
		C.EGL_BAD_PARAMETER:   "EGL_BAD_PARAMETER",
		C.EGL_BAD_SURFACE:     "EGL_BAD_SURFACE (no surfaceless contexts)",
	}
	if s, ok := names[e]; ok {
		return s
	}
	return fmt.Sprintf("EGL error 0x%x", int(e))
}
