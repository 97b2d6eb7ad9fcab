/* fuzz_tel_falco.c - the falco telemetry parser on arbitrary bodies. */
#define FUZZ_TEL_SOURCE TELEMETRY_FALCO
#include "fuzz_tel.h"
