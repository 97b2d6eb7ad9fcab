/* fuzz_tel_tetragon.c - the tetragon telemetry parser on arbitrary bodies. */
#define FUZZ_TEL_SOURCE TELEMETRY_TETRAGON
#include "fuzz_tel.h"
