/* SPDX-License-Identifier: Apache-2.0 */
/* table.c: aligned text tables, the default output of the subcommands that list things.
 *
 * Rows are collected first and printed at the end, because a column is as wide as its widest
 * cell. Columns are separated by two spaces and left-aligned, except the ones marked numeric,
 * which are right-aligned so that figures line up by their last digit; the last column is never
 * padded, so no line ends in spaces. Cells are copied, so callers may pass temporary buffers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_table_init(struct cli_table *t, unsigned ncol, const char *const *head, const char *align)
{
    *t = (struct cli_table){.ncol = ncol, .head = head, .align = align};
    return ncol > 0 && ncol <= CLI_TABLE_MAX_COLS ? 0 : -EINVAL;
}

int cli_table_row(struct cli_table *t, const char *const *cells)
{
    if (t->nrow == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **p = realloc(t->cell, cap * t->ncol * sizeof(*p));
        if (!p)
            return -ENOMEM;
        t->cell = p;
        t->cap = cap;
    }
    char **row = t->cell + t->nrow * t->ncol;
    for (unsigned c = 0; c < t->ncol; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "-");
        if (!row[c]) {
            while (c--)
                free(row[c]);
            return -ENOMEM;
        }
    }
    t->nrow++;
    return 0;
}

static void print_row(const struct cli_table *t, const size_t *width, const char *const *cells,
                      FILE *out)
{
    if (t->indent)
        fputs(t->indent, out);
    for (unsigned c = 0; c < t->ncol; c++) {
        bool right = t->align && t->align[c] == 'r';
        bool last = c + 1 == t->ncol;
        size_t pad = width[c] - strlen(cells[c]);
        if (c)
            fputs("  ", out);
        if (right)
            fprintf(out, "%*s%s", (int)pad, "", cells[c]);
        else
            fprintf(out, "%s%*s", cells[c], last ? 0 : (int)pad, "");
    }
    fputc('\n', out);
}

void cli_table_print(const struct cli_table *t, FILE *out)
{
    size_t width[CLI_TABLE_MAX_COLS];
    for (unsigned c = 0; c < t->ncol; c++) {
        width[c] = strlen(t->head[c]);
        for (size_t r = 0; r < t->nrow; r++) {
            size_t w = strlen(t->cell[r * t->ncol + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    print_row(t, width, t->head, out);
    for (size_t r = 0; r < t->nrow; r++)
        print_row(t, width, (const char *const *)t->cell + r * t->ncol, out);
}

void cli_table_free(struct cli_table *t)
{
    for (size_t i = 0; i < t->nrow * t->ncol; i++)
        free(t->cell[i]);
    free(t->cell);
    *t = (struct cli_table){0};
}
