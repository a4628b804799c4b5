/*
** csv.c: CSV text as records of fields, and fields as numbers (lg_data.h says the syntax).
** Two passes over the text, as the binding uses them: lgI_csvshape counts (so that the
** tensor is allocated once, at its size), lgI_csvfill reads the numbers into it.
*/
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "core/lg_data.h"

#define MAXNUM 512   /* longest number read (digits past what a double holds change nothing
                        a person writes; 17 significant digits identify any double) */

static int isblank_ (int c, int sep) { return (c == ' ' || c == '\t') && c != sep; }

void lgI_csvinit (lg_CsvScan *s, const char *text, size_t n, int sep) {
  s->p = text;
  s->end = text + n;
  s->sep = sep;
  s->line = 1;
  if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) s->p += 3;   /* a UTF-8 BOM */
}

int lgI_csvrecord (lg_CsvScan *s) {
  for (;;) {
    const char *q = s->p;
    while (q < s->end && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
    if (q == s->end) {
      s->p = q;
      return 0;
    }
    if (*q != '\n') return 1;
    s->p = q + 1;   /* a blank line */
    s->line++;
  }
}

/* Past the end of a field at s->p: the separator, a line break or the end of the text. */
static void endfield (lg_CsvScan *s, lg_CsvField *f) {
  f->last = 1;
  if (s->p == s->end) return;
  if (*s->p == s->sep) {
    s->p++;
    f->last = 0;
    return;
  }
  if (*s->p == '\r') s->p++;
  if (s->p < s->end && *s->p == '\n') {
    s->p++;
    s->line++;
  }
}

static int quotedfield (lg_CsvScan *s, lg_CsvField *f) {
  const char *q = s->p + 1;   /* past the opening quote */
  f->s = q;
  f->quoted = 1;
  for (;;) {
    if (q == s->end) return LGI_ECSVQUOTE;
    if (*q == '"') {
      if (q + 1 < s->end && q[1] == '"') { q += 2; continue; }   /* "" */
      break;
    }
    if (*q == '\n') s->line++;
    q++;
  }
  f->len = (size_t)(q - f->s);
  q++;
  while (q < s->end && isblank_(*q, s->sep)) q++;
  s->p = q;
  if (q < s->end && *q != s->sep && *q != '\n' && !(*q == '\r' && (q + 1 == s->end ||
                                                                  q[1] == '\n')))
    return LGI_ECSVAFTER;
  endfield(s, f);
  return LG_OK;
}

int lgI_csvfield (lg_CsvScan *s, lg_CsvField *f) {
  const char *q = s->p, *e;
  while (q < s->end && isblank_(*q, s->sep)) q++;
  f->line = s->line;
  if (q < s->end && *q == '"') {
    s->p = q;
    return quotedfield(s, f);
  }
  f->s = q;
  f->quoted = 0;
  while (q < s->end && *q != s->sep && *q != '\n') q++;
  e = q;   /* trailing blanks, and the \r of a \r\n, are not part of it */
  while (e > f->s && (isblank_(e[-1], s->sep) || e[-1] == '\r')) e--;
  f->len = (size_t)(e - f->s);
  s->p = q;
  endfield(s, f);
  return LG_OK;
}

size_t lgI_csvunquote (const lg_CsvField *f, char *out) {
  size_t i, n = 0;
  for (i = 0; i < f->len; i++) {
    out[n++] = f->s[i];
    if (f->quoted && f->s[i] == '"') i++;   /* the second of "" */
  }
  return n;
}

/* ---- numbers ---------------------------------------------------------------------- */

static int isdigit_ (int c) { return c >= '0' && c <= '9'; }

static int lower (int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

/* Whether s[0..n) is word in any case */
static int isword (const char *s, size_t n, const char *word) {
  size_t i;
  if (n != strlen(word)) return 0;
  for (i = 0; i < n; i++) if (lower((unsigned char)s[i]) != word[i]) return 0;
  return 1;
}

/* Whether s[0..n) has the syntax of a number; *point: the index of its '.', or -1. */
static int syntax (const char *s, size_t n, long *point) {
  size_t i = 0, digits = 0;
  *point = -1;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  if (isword(s + i, n - i, "inf") || isword(s + i, n - i, "infinity") ||
      isword(s + i, n - i, "nan"))
    return 1;
  while (i < n && isdigit_((unsigned char)s[i])) { i++; digits++; }
  if (i < n && s[i] == '.') {
    *point = (long)i++;
    while (i < n && isdigit_((unsigned char)s[i])) { i++; digits++; }
  }
  if (digits == 0) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i == n || !isdigit_((unsigned char)s[i])) return 0;
    while (i < n && isdigit_((unsigned char)s[i])) i++;
  }
  return i == n;
}

/* As lgI_csvnumber, with the locale's decimal point given (strtod reads that one, not '.',
   as Lua's own reader knows). */
static int number (const char *s, size_t n, double *x, const char *dp) {
  char buf[MAXNUM + 8];
  long point;
  size_t dplen = strlen(dp);
  while (n > 0 && (*s == ' ' || *s == '\t')) { s++; n--; }   /* inside quotes */
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n == 0 || n > MAXNUM || dplen > 4 || !syntax(s, n, &point)) return 0;
  if (point < 0 || (dplen == 1 && dp[0] == '.')) {
    memcpy(buf, s, n);
    buf[n] = '\0';
  }
  else {
    memcpy(buf, s, (size_t)point);
    memcpy(buf + point, dp, dplen);
    memcpy(buf + point + dplen, s + point + 1, n - (size_t)point - 1);
    buf[n - 1 + dplen] = '\0';
  }
  *x = strtod(buf, NULL);   /* whole: the syntax was checked */
  return 1;
}

int lgI_csvnumber (const char *s, size_t len, double *x) {
  return number(s, len, x, localeconv()->decimal_point);
}

/* ---- the two passes --------------------------------------------------------------- */

int lgI_csvshape (const lg_CsvScan *s0, lg_CsvInfo *info) {
  lg_CsvScan s = *s0;
  lg_CsvField f;
  int err;
  info->rows = info->cols = 0;
  while (lgI_csvrecord(&s)) {
    int64_t line = s.line, n = 0;
    do {
      info->line = s.line;
      info->col = ++n;
      if ((err = lgI_csvfield(&s, &f)) != LG_OK) return err;
    } while (!f.last);
    if (info->rows == 0) {
      info->cols = n;
      info->first = line;
    }
    else if (n != info->cols) {
      info->line = line;
      info->got = n;
      return LGI_ECSVRAGGED;
    }
    info->rows++;
  }
  return LG_OK;
}

int lgI_csvfill (lg_CsvScan *s, lg_CsvInfo *info, double *out) {
  const char *dp = localeconv()->decimal_point;
  lg_CsvField f;
  int64_t i, j;
  int err;
  for (i = 0; i < info->rows; i++) {
    if (!lgI_csvrecord(s)) return LGI_ECSVRAGGED;   /* not the text lgI_csvshape saw */
    for (j = 0; j < info->cols; j++) {
      info->line = s->line;
      info->col = j + 1;
      if ((err = lgI_csvfield(s, &f)) != LG_OK) return err;
      if ((f.last != 0) != (j == info->cols - 1)) return LGI_ECSVRAGGED;
      if (!number(f.s, f.len, out++, dp)) {
        info->line = f.line;
        info->s = f.s;
        info->len = f.len;
        return LGI_ECSVNUM;
      }
    }
  }
  return LG_OK;
}
