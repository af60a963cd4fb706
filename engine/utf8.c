/*
 * utf8.c -- the one UTF-8 decoder of the engine, for validating names and notes.
 *
 * Must never accept what is not well-formed UTF-8 (RFC 3629): stray continuation bytes,
 * truncated or overlong sequences, surrogates, code points above U+10FFFF.
 */
#include "rb_int.h"

/* Length of the well-formed UTF-8 sequence at p (n > 0 bytes left) and its code point in
 * *cp; 0 if it is not one (stray continuation byte, truncated, overlong, surrogate, above
 * U+10FFFF). */
size_t rbi_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    uint32_t c, min;
    size_t len;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        c = p[0] & 0x1f;
        min = 0x80;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        c = p[0] & 0x0f;
        min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        c = p[0] & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}
