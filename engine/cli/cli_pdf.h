/*
 * cli_pdf.h -- PDF output of the command-line front end: an invoice's HTML printed by
 * headless Chromium (cli_pdf.c).
 *
 * Provides: cli_pdf_find() (is there a browser to print with?) and cli_pdf_write() (print
 * HTML to a PDF file).
 * Must never: be called from the library (it runs another program); hold business rules.
 */
#ifndef RB_CLI_PDF_H
#define RB_CLI_PDF_H

#include <stddef.h>

/* Seconds the browser may take before it is killed (its whole process group);
 * $REBILL_PDF_TIMEOUT (whole seconds, 1..3600) overrides it. */
#define CLI_PDF_TIMEOUT 60

/* Find the browser: $REBILL_CHROMIUM (a path, or a name looked up in PATH), else the first
 * of "chromium", "chromium-browser" and "google-chrome" in PATH. On success writes its path
 * to bin (binsz bytes) and returns 0; else returns -1 with the reason in msg (msgsz bytes),
 * e.g. `pdf output needs headless Chromium: no "chromium" ... in PATH (...)`. */
int cli_pdf_find(char *bin, size_t binsz, char *msg, size_t msgsz);

/* Print `len` bytes of self-contained HTML to a PDF at pdf_path with headless Chromium
 * (run with fork/exec, no shell, offline, in a private temporary directory that is removed
 * on every path; killed after CLI_PDF_TIMEOUT seconds). pdf_path is written only once the
 * browser produced a file that starts with "%PDF-". Returns 0, or -1 with a message in msg
 * (msgsz bytes; lower-case first word, no full stop). */
int cli_pdf_write(const char *html, size_t len, const char *pdf_path, char *msg, size_t msgsz);

#endif
