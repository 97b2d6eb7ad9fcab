/* fuzz_tel_audit.c - the audit telemetry parser on arbitrary bodies. */
#define FUZZ_TEL_SOURCE TELEMETRY_AUDIT
#include "fuzz_tel.h"
