"""Turn the bytes of a CSV or text file into text, or refuse a file we cannot read surely.

Excel saves "CSV" in the machine's ANSI code page (Windows-1252 in Germany and France),
"CSV UTF-8" with a byte order mark, and "Unicode text" as UTF-16 LE with a byte order
mark and tabs between the cells. Every 8-bit file also decodes as Windows-1252 without
an error, so a Russian file (KOI8-R, Windows-1251) would import as nonsense such as
"ðÅÔÒÏ×" and go out in greetings. Text is taken as Windows-1252 only when it reads like
the Western European languages that code page is for: their words are mostly ASCII
letters with an accent here and there, in one case pattern, with no symbols inside.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from rsvp.errors import RecipientFileError

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# A workbook saved or renamed as .csv: its first bytes say so.
WORKBOOKS = ((b"PK\x03\x04", "an Excel workbook (.xlsx)"),
             (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls)"))
SAVE_AS = ("In Excel use File > Save As > 'CSV UTF-8 (comma delimited)'; in LibreOffice "
           "save as CSV with the character set 'Unicode (UTF-8)'.")
SEPARATORS = (",", ";", "\t")
# UTF-16 text without a byte order mark has a NUL in every other byte, a workbook many;
# a stray NUL in a text file is left for the row check to report with its line.
NUL_SHARE = 8
# A word: letters, perhaps joined by single non-ASCII marks ("l’Europe", "Wei×") so that
# a symbol inside a word can be seen.
WORD = re.compile(r"[^\W\d_]+(?:[^\x00-\x7f\w\s][^\W\d_]+)*")
# Inside a word these are ordinary: dashes, typographic quotes and apostrophes (´ too,
# which many type for one), the middle dot (Catalan); everything else, e.g. "³" or "¿"
# between letters, comes from reading another code page as Windows-1252.
WORD_JOINERS = {"Pd", "Pi", "Pf"}
JOINER_CHARS = "´·"
# Letters of Icelandic and Turkish (read from Windows-1254) that German, French and their
# neighbours never write.
RARE_IN_WESTERN = "ÐðÞþÝý"
# Czech, Slovak and Polish letters that Windows-1250 puts where Windows-1252 has these
# (ř→ø, ě→ì, ň→ò, ő→õ), and "œ" before anything but u or i (ś→œ; French writes œu, œi).
# Ł and ź show as "£" before a letter and as "Ÿ".
CENTRAL_SIGNS = re.compile(r"[øìòõØÌÒÕŸ]|[œŒ](?![uUiI])|£(?=[^\W\d_])")
# This many such signs mean a Central European file, not a Western one with a rare name.
CENTRAL_COUNT = 2
# More than this share of odd words means the text is not Windows-1252.
ODD_SHARE = 0.2
# Other code pages a refused file is compared with, to say what it probably is: the one
# where the most common Cyrillic letters make up a natural share of the text wins (the
# wrong one of the two puts other letters in their place).
GUESSES = (("koi8_r", "KOI8-R, Cyrillic"), ("cp1251", "Windows-1251, Cyrillic"))
COMMON_CYRILLIC = "оеаинтсрвл"
COMMON_SHARE = 0.5


def decode_text(name: str, data: bytes) -> str:
    """Return the text of a file in UTF-8, UTF-16/32 with a byte order mark, or
    Windows-1252; raise RecipientFileError naming the probable encoding otherwise."""
    for mark, codec, label in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise RecipientFileError(f"{name} begins like {label} text but is damaged",
                                         problems=[], hint=SAVE_AS) from None
    for magic, kind in WORKBOOKS:
        if data.startswith(magic):
            raise RecipientFileError(f"{name} is {kind}, not a text file", problems=[],
                                     hint="Save it as Excel workbook (.xlsx) and import that, "
                                          "or save it as 'CSV UTF-8'.")
    if data.count(b"\x00") * NUL_SHARE > len(data):
        raise RecipientFileError(
            f"{name} is not a text file (it is full of NUL bytes: UTF-16 without a byte "
            "order mark, or a workbook under another name)", problems=[], hint=SAVE_AS)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    central = _central_european(text)
    if text and not central and _reads_as_western(text):
        return text
    guess = _guess(data) or (" (it looks like Windows-1250, Central European)" if central
                             else "")
    raise RecipientFileError(f"{name} is neither UTF-8 nor Windows-1252 text{guess}",
                             problems=[], hint=SAVE_AS)


def sniff_delimiter(text: str) -> str:
    """Pick ',', ';' or a tab by which appears most often in the header line, outside
    quotes; ',' when none does."""
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    return max(SEPARATORS, key=lambda separator: counts[separator])


def _central_european(text: str) -> bool:
    """Whether Windows-1252 text shows the signs of a Czech, Slovak or Polish file: a few
    letters that Windows-1250 has in those places, among mostly plain ASCII letters (a
    Greek or Cyrillic file has hardly any of those)."""
    letters = [char for char in text if char.isalpha()]
    plain = sum(char.isascii() for char in letters)
    return (len(CENTRAL_SIGNS.findall(text)) >= CENTRAL_COUNT
            and plain * 2 > len(letters))


def _reads_as_western(text: str) -> bool:
    """Whether Windows-1252 text has the words of a Western European language."""
    odd, words = _odd_words(text, latin=True)
    return odd <= ODD_SHARE * words


def _guess(data: bytes) -> str:
    """' (it looks like ...)' for the code page that reads most naturally, or ''."""
    best, most = "", COMMON_SHARE
    for codec, label in GUESSES:
        text = data.decode(codec, errors="replace")
        odd, words = _odd_words(text, latin=False)
        letters = [char.lower() for char in text if char.isalpha() and not char.isascii()]
        common = sum(char in COMMON_CYRILLIC for char in letters) / max(len(letters), 1)
        if odd <= ODD_SHARE * words and common >= most:
            best, most = label, common
    return f" (it looks like {best})" if best else ""


def _odd_words(text: str, latin: bool) -> tuple[int, int]:
    """Count the words with non-ASCII letters, and those among them that no language
    writes: a symbol inside, a capital after a small letter next to a non-ASCII letter,
    letters of two scripts, or (`latin`: in a Western language) three non-ASCII letters
    in a row or a letter those languages do not use."""
    odd = words = 0
    for match in WORD.finditer(text):
        word = match.group()
        if word.isascii():
            continue
        words += 1
        if _is_odd(word, latin):
            odd += 1
    return odd, words


def _is_odd(word: str, latin: bool) -> bool:
    if latin and any(char in RARE_IN_WESTERN for char in word):
        return True
    if not latin and len({unicodedata.name(c, "?").split()[0] for c in word if c.isalpha()}) > 1:
        return True
    row = 0
    for before, char in zip(" " + word[:-1], word, strict=True):
        if not char.isalpha():
            if unicodedata.category(char) not in WORD_JOINERS and char not in JOINER_CHARS:
                return True
            row = 0
            continue
        # ß has no capital in common use: "STRAßE" is how many write it in capitals.
        if (before.islower() and before != "ß" and char.isupper()
                and not (before.isascii() and char.isascii())):
            return True
        row = row + 1 if not char.isascii() else 0
        if latin and row >= 3:
            return True
    return False
