/* fuzz_tel_native.c - the native telemetry parser on arbitrary bodies. */
#define FUZZ_TEL_SOURCE TELEMETRY_NATIVE
#include "fuzz_tel.h"
