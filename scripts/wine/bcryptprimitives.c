/*
 * A stand-in bcryptprimitives.dll for running Rust test binaries under Wine.
 *
 * Rust's standard library (1.78 and later) takes its random seed from
 * ProcessPrng in bcryptprimitives.dll, which Wine 8.0 does not provide: every
 * binary then fails to start with status c0000135 (DLL not found). This DLL
 * exports ProcessPrng and fills the buffer from RtlGenRandom, which advapi32
 * exports as SystemFunction036. It is only ever placed beside test binaries
 * run under Wine (scripts/wine/runner); nothing ships it.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *            bcryptprimitives.c bcryptprimitives.def
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
