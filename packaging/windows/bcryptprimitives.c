/* A stand-in bcryptprimitives.dll for running Windows builds under Debian's
 * wine 8, which lacks ProcessPrng; Go 1.26's runtime needs it. Used only by the
 * packaging test, never shipped: real Windows has the DLL. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(data, n)) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
