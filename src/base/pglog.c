/* pglog.c - JSON-lines logger. */
#include "pglog.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ticker.h"

static enum pglog_format log_format = PGLOG_JSON;
static enum pglog_level log_max = PGLOG_INFO;
static FILE *log_out;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void pglog_setup(enum pglog_format fmt, enum pglog_level max, FILE *out)
{
	log_format = fmt;
	log_max = max;
	log_out = out;
}

int pglog_level_parse(const char *s, enum pglog_level *ret)
{
	for (int i = 0; i <= PGLOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum pglog_level)i;
			return 0;
		}
	return -EINVAL;
}

int pglog_format_parse(const char *s, enum pglog_format *ret)
{
	if (strcmp(s, "json") == 0)
		*ret = PGLOG_JSON;
	else if (strcmp(s, "text") == 0)
		*ret = PGLOG_TEXT;
	else
		return -EINVAL;
	return 0;
}

int pglog_enabled(enum pglog_level lvl)
{
	return lvl <= log_max;
}

void pglog(enum pglog_level lvl, const char *msg, ...)
{
	struct buf b = BUF_INIT(64 * 1024);
	struct timespec ts;
	struct tm tm;
	char tbuf[40];
	va_list ap;

	if (!pglog_enabled(lvl))
		return;
	ticker_wall(&ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);

	if (log_format == PGLOG_JSON) {
		buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"",
			   tbuf, ts.tv_nsec / 1000000, level_names[lvl]);
		buf_add_json_escaped(&b, msg);
		buf_addc(&b, '"');
	} else {
		buf_printf(&b, "%s %-5s %s", tbuf, level_names[lvl], msg);
	}
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		const char *v;

		if (!k)
			break;
		v = va_arg(ap, const char *);
		if (!v)
			break;
		if (log_format == PGLOG_JSON) {
			buf_adds(&b, ",\"");
			buf_add_json_escaped(&b, k);
			buf_adds(&b, "\":\"");
			buf_add_json_escaped(&b, v);
			buf_addc(&b, '"');
		} else {
			buf_printf(&b, " %s=", k);
			if (strpbrk(v, " \t\"") || !*v) {
				buf_addc(&b, '"');
				buf_add_json_escaped(&b, v);
				buf_addc(&b, '"');
			} else {
				buf_adds(&b, v);
			}
		}
	}
	va_end(ap);
	if (log_format == PGLOG_JSON)
		buf_addc(&b, '}');
	buf_addc(&b, '\n');

	pthread_mutex_lock(&log_lock);
	fwrite(buf_str(&b), 1, b.len, log_out ? log_out : stderr);
	fflush(log_out ? log_out : stderr);
	pthread_mutex_unlock(&log_lock);
	buf_free(&b);
}
