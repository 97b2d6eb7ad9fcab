/* auditlive.c - the audit source's live span (auditlive.h). */
#include "auditlive.h"

void auditlive_init(struct auditlive *l, int64_t window_s)
{
	*l = (struct auditlive){ window_s > 0 ? window_s : 600, -1, -1, -1, -1 };
}

static bool live(const struct auditlive *l, int64_t now)
{
	return l->since >= 0 && l->last >= 0 && now - l->last <= l->window;
}

void auditlive_batch(struct auditlive *l, int64_t now)
{
	if (!live(l, now))
		l->since = now;
	if (now > l->last)
		l->last = now;
}

int64_t auditlive_since(const struct auditlive *l, int64_t now)
{
	return live(l, now) ? l->since : -1;
}

void auditlive_restore(struct auditlive *l, int64_t since, int64_t confirmed, int64_t now)
{
	if (since < 0 || confirmed < since || confirmed > now || now - confirmed > l->window)
		return;
	/* Memory's span (batches heard before this term) joins the stored
	 * one when it started within a window of the confirmation. */
	if (l->since < 0 || !live(l, now))
		l->since = since;
	else if (l->since - confirmed <= l->window && since < l->since)
		l->since = since;
	else
		return;
	if (confirmed > l->last)
		l->last = confirmed;
	l->saved_since = since;
	l->saved_at = confirmed;
}

bool auditlive_due(const struct auditlive *l, int64_t now)
{
	if (!live(l, now))
		return false;
	return l->saved_since != l->since || l->saved_at < 0 || now - l->saved_at >= l->window;
}

void auditlive_saved(struct auditlive *l, int64_t since, int64_t at)
{
	l->saved_since = since;
	l->saved_at = at;
}
