/* forkflow: see LICENSE. */
/*
 * A Hadoop configuration file, as -conf names one:
 *
 *	<configuration>
 *	  <property><name>N</name><value>V</value></property>
 *	  ...
 *	</configuration>
 *
 * read with expat into an object of names and values; a later property
 * of the same name replaces an earlier one, as in Hadoop.  <final>,
 * <description> and <source> are taken and not used.  Anything else is an
 * error naming the file, line and column.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <jansson.h>

#include "forkflow.h"

/* Where the parser is in the document. */
enum hconf_at {
	HC_TOP,		/* before <configuration> */
	HC_CONF,	/* in <configuration> */
	HC_PROP,	/* in a <property> */
	HC_FIELD,	/* in one of its fields */
	HC_OTHER,	/* in a field not used (description, final...) */
	HC_END,		/* after </configuration> */
};

struct hconf {
	XML_Parser	 xp;
	const char	*path;
	json_t		*props;
	enum hconf_at	 at;
	int		 depth;		/* in HC_OTHER */
	struct buf	 text;		/* of the field being read */
	char		*name;		/* of the property being read */
	char		*value;
	int		 field;		/* 'n' name, 'v' value */
	char		*error;		/* the first error, or NULL */
};

/* Keep the first error, with where the parser is. */
static void
hconf_error(struct hconf *h, const char *what, const char *tag)
{
	if (h->error == NULL)
		xasprintf(&h->error, "%s:%lu:%lu: %s%s%s%s", h->path,
		    (unsigned long)XML_GetCurrentLineNumber(h->xp),
		    (unsigned long)XML_GetCurrentColumnNumber(h->xp) + 1, what,
		    tag != NULL ? " <" : "", tag != NULL ? tag : "",
		    tag != NULL ? ">" : "");
}

/* Stop at an error in the document's shape. */
static void
hconf_fail(struct hconf *h, const char *what, const char *tag)
{
	hconf_error(h, what, tag);
	XML_StopParser(h->xp, XML_FALSE);
}

static void XMLCALL
hconf_start(void *arg, const XML_Char *tag, const XML_Char **attr)
{
	struct hconf	*h = arg;

	(void)attr;
	switch (h->at) {
	case HC_TOP:
		if (strcmp(tag, "configuration") != 0)
			hconf_fail(h, "not a Hadoop configuration: it starts "
			    "with", tag);
		h->at = HC_CONF;
		return;
	case HC_CONF:
		if (strcmp(tag, "property") != 0) {
			hconf_fail(h, "a configuration holds properties, not",
			    tag);
			return;
		}
		h->at = HC_PROP;
		return;
	case HC_PROP:
		if (strcmp(tag, "name") == 0 || strcmp(tag, "value") == 0) {
			h->field = tag[0];
			h->text.len = 0;
			h->at = HC_FIELD;
		} else {
			h->at = HC_OTHER;
			h->depth = 1;
		}
		return;
	case HC_OTHER:
		h->depth++;
		return;
	case HC_FIELD:
		hconf_fail(h, "a property's name or value is text, not", tag);
		return;
	case HC_END:
		hconf_fail(h, "an element after </configuration>:", tag);
		return;
	}
}

static void XMLCALL
hconf_end(void *arg, const XML_Char *tag)
{
	struct hconf	*h = arg;
	char		*s;

	(void)tag;
	switch (h->at) {
	case HC_FIELD:
		s = xstrndup(h->text.data != NULL ? h->text.data : "",
		    h->text.len);
		if (h->field == 'n') {
			free(h->name);
			h->name = s;
		} else {
			free(h->value);
			h->value = s;
		}
		h->at = HC_PROP;
		return;
	case HC_OTHER:
		if (--h->depth == 0)
			h->at = HC_PROP;
		return;
	case HC_PROP:
		if (h->name == NULL || *h->name == '\0') {
			hconf_fail(h, "a property without a name", NULL);
			return;
		}
		json_object_set_new(h->props, h->name,
		    json_string(h->value != NULL ? h->value : ""));
		free(h->name);
		free(h->value);
		h->name = h->value = NULL;
		h->at = HC_CONF;
		return;
	case HC_CONF:
		h->at = HC_END;
		return;
	default:
		return;
	}
}

static void XMLCALL
hconf_text(void *arg, const XML_Char *s, int len)
{
	struct hconf	*h = arg;

	if (h->at == HC_FIELD)
		buf_add(&h->text, s, (size_t)len);
}

/*
 * Read the Hadoop configuration file at path into props.  Returns 0, or
 * -1 with *cause saying what is wrong and where.
 */
int
hconf_read(const char *path, json_t *props, char **cause)
{
	struct hconf	 h;
	FILE		*f;
	char		 chunk[65536];
	size_t		 n;
	int		 done = 0;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	memset(&h, 0, sizeof h);
	h.path = path;
	h.props = props;
	if ((h.xp = XML_ParserCreate(NULL)) == NULL)
		fatalx("XML_ParserCreate");
	XML_SetUserData(h.xp, &h);
	XML_SetElementHandler(h.xp, hconf_start, hconf_end);
	XML_SetCharacterDataHandler(h.xp, hconf_text);
	while (!done && h.error == NULL) {
		n = fread(chunk, 1, sizeof chunk, f);
		if (ferror(f)) {
			xasprintf(&h.error, "%s: %s", path, strerror(errno));
			break;
		}
		done = feof(f);
		if (XML_Parse(h.xp, chunk, (int)n, done) == XML_STATUS_ERROR)
			hconf_error(&h, XML_ErrorString(XML_GetErrorCode(h.xp)),
			    NULL);
	}
	if (h.error == NULL && h.at != HC_END)
		xasprintf(&h.error, "%s: no <configuration> element", path);
	fclose(f);
	XML_ParserFree(h.xp);
	buf_free(&h.text);
	free(h.name);
	free(h.value);
	if (h.error != NULL) {
		*cause = h.error;
		return (-1);
	}
	return (0);
}
