"""Text from SDAManager made safe to print: no character of a name or a
description may move the cursor, start an escape sequence, break a line or
reorder the text around it, whatever the output format."""

from __future__ import annotations


def _sanitizing_table() -> dict[int, str]:
    """Map every character that could break a frame line to a harmless one."""
    table: dict[int, str] = {}
    # C0/C1 controls (\t, \n, \r, ESC, NEL...) and DEL move the cursor or
    # start escape sequences; a newline inside a str cell would add a line.
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = " "
    # Line/paragraph separators (str.splitlines breaks on them) and bidi
    # embeddings/overrides/isolates, which some terminals use to reorder text;
    # the marks LRM, RLM and ALM reorder the text around them too.
    for code in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C):
        table[code] = " "
    # Lone surrogates cannot be encoded when printed: they would raise
    # UnicodeEncodeError far from here.
    for code in range(0xD800, 0xE000):
        table[code] = "\uFFFD"
    return table


_SANITIZE = _sanitizing_table()


def visible(s: str) -> str:
    """Text echoed back in a message (an argument, an address): what `clean` would replace
    is shown as its escape (`\\u202e`), so it can neither move the cursor nor hide."""
    if s.isprintable():
        return s
    return "".join(f"\\u{ord(c):04x}" if ord(c) in _SANITIZE else c for c in s)


def clean(s: str) -> str:
    """Cell text made safe for one frame line."""
    # isprintable() is a single C loop and true for almost all real data, so
    # the translate() cost is only paid by odd text.
    if s.isprintable():
        return s
    s = s.translate(_SANITIZE)
    # A trailing ZWJ joins nothing, but wcwidth would let it swallow the
    # padding space after it while a terminal still prints that space.
    return s.rstrip("\u200d") if s.endswith("\u200d") else s
