#!/usr/bin/env python3
"""Reference checker for rb_dec (engine/dec.c), driven by tests/unit/test_dec.c.

Usage: dec_ref.py FILE

FILE has one case per line, written by the C test with the results the C code gave:

    add A B -> R          sub A B -> R          mul A B -> R       muli A N -> R
    div A B SCALE MODE -> R                     round A SCALE MODE -> R
    cmp A B -> -1|0|1     norm A -> R           parse [TEXT] -> R

A and B are rb_dec_format() text, so their scale is their number of fraction digits. R is
formatted text, or OVERFLOW, INVALID or SYNTAX. This script recomputes every line with
Python's decimal module (precision 200, Inexact trapped, so every step is exact) and the
contract of include/rebill.h, compares the text (value AND scale), prints the mismatches
and finally "checked N lines, M mismatches". Exit status: 0 when M is 0, 1 otherwise,
2 on a malformed file.

The contract, written independently of the C code:
- A result keeps the natural scale of its operation (max of the scales for add/sub, their
  sum for mul, the operand's for muli, the implied one for parse). If that does not fit
  (more than 38 digits, or scale above 38), the fewest trailing zeros are dropped that
  make it fit; if a digit that would have to go is not zero, the result is OVERFLOW.
- div and round give exactly SCALE fraction digits, rounded with MODE; OVERFLOW when the
  rounded coefficient has more than 38 digits. div by zero is INVALID.
- Zero never has a minus sign.
"""
import re
import sys
from decimal import (Context, Decimal, Inexact, InvalidOperation, ROUND_CEILING, ROUND_DOWN,
                     ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, setcontext)

# Arithmetic must be exact: an inexact step raises instead of rounding quietly. Rounding to
# a scale (quantize) is the one place digits may go, under its own context.
setcontext(Context(prec=200, Emax=10**6, Emin=-10**6, traps=[Inexact, InvalidOperation]))
ROUNDING = Context(prec=200, Emax=10**6, Emin=-10**6, traps=[InvalidOperation])

LIMIT = 10**38
MAX_SCALE = 38
MODES = {
    "HALF_EVEN": ROUND_HALF_EVEN, "HALF_UP": ROUND_HALF_UP, "DOWN": ROUND_DOWN,
    "UP": ROUND_UP, "FLOOR": ROUND_FLOOR, "CEILING": ROUND_CEILING,
}
SYNTAX = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def fmt(c, s):
    """Plain text of c x 10^-s with exactly s fraction digits."""
    digits = str(abs(c)).rjust(s + 1, "0")
    text = digits[:-s] + "." + digits[-s:] if s else digits
    return ("-" if c < 0 else "") + text


def fit(c, s):
    """The contract's one way to store the exact value c x 10^-s (s >= 0)."""
    m = abs(c)
    k = max(0, s - MAX_SCALE)
    while m // 10**k >= LIMIT:
        k += 1
    if k > s or m % 10**k:
        return "OVERFLOW"
    m //= 10**k
    return fmt(-m if c < 0 else m, s - k)


def operand(text):
    """A formatted rb_dec: (Decimal value, scale)."""
    if not PLAIN.fullmatch(text):
        raise ValueError("bad operand %r" % text)
    return Decimal(text), -Decimal(text).as_tuple().exponent


def coef(v, s):
    """The integer v x 10^s (exact)."""
    c = v.scaleb(s)
    if c != c.to_integral_value():
        raise ValueError("not an integer: %s" % c)
    return int(c)


def ref_parse(text):
    m = SYNTAX.fullmatch(text)
    if not m:
        return "SYNTAX"
    # Digits and exponent straight from the text: the exponent may be far beyond what a
    # decimal context allows ("1e999999999999"), which must still give OVERFLOW or zero.
    mantissa, _, exp = text.lstrip("+-").lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    c = int(whole + frac)
    s = len(frac) - int(exp or "0")
    if abs(s) < 10**4 and Decimal(text) != Decimal(c).scaleb(-s).copy_sign(Decimal(text)):
        raise ValueError("reading of %r disagrees with decimal" % text)
    if text.startswith("-"):
        c = -c
    if c == 0:
        return fmt(0, min(max(s, 0), MAX_SCALE))
    if s < 0:
        if s < -MAX_SCALE:
            return "OVERFLOW"
        c, s = c * 10**-s, 0
    if s > MAX_SCALE + len(str(abs(c))):
        return "OVERFLOW"  # more zeros to drop than the coefficient has digits
    return fit(c, s)


def ref_div(a, b, scale, mode):
    (va, sa), (vb, sb) = operand(a), operand(b)
    scale = int(scale)
    if vb == 0 or not 0 <= scale <= MAX_SCALE:
        return "INVALID"
    # The exact quotient as q + r/d; a stand-in fraction with the same position against
    # one half lets decimal's own rounding of the stand-in decide, exactly.
    e = scale + sb - sa
    num = abs(coef(va, sa)) * 10**max(e, 0)
    den = abs(coef(vb, sb)) * 10**max(-e, 0)
    q, r = divmod(num, den)
    frac = ("0" if r == 0 else "0.25" if 2 * r < den else "0.5" if 2 * r == den else "0.75")
    proxy = Decimal(q) + Decimal(frac)
    if (va < 0) != (vb < 0):
        proxy = -proxy
    c = int(proxy.quantize(Decimal(1), rounding=MODES[mode], context=ROUNDING))
    return "OVERFLOW" if abs(c) >= LIMIT else fmt(c, scale)


def ref_round(a, scale, mode):
    va, _ = operand(a)
    scale = int(scale)
    if not 0 <= scale <= MAX_SCALE:
        return "INVALID"
    q = va.quantize(Decimal(1).scaleb(-scale), rounding=MODES[mode], context=ROUNDING)
    c = coef(q, scale)
    return "OVERFLOW" if abs(c) >= LIMIT else fmt(c, scale)


def ref_norm(a):
    va, sa = operand(a)
    c = coef(va, sa)
    while sa > 0 and c % 10 == 0:
        c, sa = c // 10, sa - 1
    return fmt(c, sa)


def ref_binary(op, a, b):
    (va, sa), (vb, sb) = operand(a), operand(b)
    if op == "add":
        return fit(coef(va + vb, max(sa, sb)), max(sa, sb))
    if op == "sub":
        return fit(coef(va - vb, max(sa, sb)), max(sa, sb))
    if op == "mul":
        return fit(coef(va * vb, sa + sb), sa + sb)
    if op == "muli":
        return fit(coef(va * int(b), sa), sa)
    if op == "cmp":
        return str((va > vb) - (va < vb))
    raise ValueError("unknown op %r" % op)


def expect(left):
    if left.startswith("parse "):  # the text may hold spaces: it is everything in brackets
        text = left[len("parse "):]
        if not (text.startswith("[") and text.endswith("]")):
            raise ValueError("parse text must be in brackets")
        return ref_parse(text[1:-1])
    args = left.split(" ")
    op = args[0]
    if op == "div":
        return ref_div(*args[1:])
    if op == "round":
        return ref_round(*args[1:])
    if op == "norm":
        return ref_norm(args[1])
    return ref_binary(op, args[1], args[2])


def main():
    if len(sys.argv) != 2:
        print("usage: dec_ref.py FILE", file=sys.stderr)
        return 2
    checked = mismatches = 0
    with open(sys.argv[1]) as f:
        for lineno, line in enumerate(f, 1):
            left, sep, got = line.rstrip("\n").partition(" -> ")
            try:
                if not sep:
                    raise ValueError("no ' -> '")
                want = expect(left)
            except (ValueError, TypeError, KeyError, ArithmeticError) as e:
                print("line %d: malformed: %s: %s" % (lineno, e, line.rstrip()))
                return 2
            checked += 1
            if got != want:
                mismatches += 1
                if mismatches <= 20:
                    print("MISMATCH line %d: %s -> got %s, want %s" % (lineno, left, got, want))
    print("checked %d lines, %d mismatches" % (checked, mismatches))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
