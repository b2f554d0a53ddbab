#!/bin/sh
# Regenerates NotoSansSC-GB2312.otf: Noto Sans CJK SC Regular (Google and
# Adobe, SIL Open Font License 1.1, OFL.txt) from Debian's fonts-noto-cjk
# package, cut down with fontTools' pyftsubset (Debian's fonttools package)
# to printable ASCII, · × — …, and the whole of GB 2312 (its 6,763 hanzi and its
# symbols): every character of the charts' own text and of nearly every
# firm and place name, in 1.5 MB instead of the collection's 19 MB.
#
#   apt-get install fonts-noto-cjk fonttools && sh gen.sh
set -eu
cd "$(dirname "$0")"
ttc=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
chars=$(mktemp)
trap 'rm -f "$chars"' EXIT
# GB 2312 rows 0xA1-0xA9 (symbols) and 0xB0-0xF7 (hanzi), decoded by Python's codec
/usr/bin/python3 -c '
import sys
out = []
for hi in list(range(0xA1, 0xAA)) + list(range(0xB0, 0xF8)):
    for lo in range(0xA1, 0xFF):
        try:
            out.append(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
sys.stdout.write("".join(out))
' > "$chars"
# font number 2 of the collection is Noto Sans CJK SC
pyftsubset "$ttc" --font-number=2 --text-file="$chars" --unicodes=U+0020-007E,U+00B7,U+00D7,U+2014,U+2026 \
	--layout-features='' --no-hinting --output-file=NotoSansSC-GB2312.otf
