#!/bin/sh
# make-icon.sh: draws assets/icon.png (1024×1024), Glimpse's app icon: an open
# eye on an indigo-to-teal rounded square, with a spark for the "AI" answer.
# Needs ImageMagick 6 (/usr/bin/convert). The PNG is committed; run this only
# to change the design.
set -eu
cd "$(dirname "$0")"
/usr/bin/convert -size 1024x1024 xc:none \
 \( -size 1024x1024 gradient:'#3b2f8f'-'#1f9bb5' \) -compose over -composite \
 \( -size 1024x1024 xc:black -fill white -draw "roundrectangle 32,32 992,992 200,200" \) -alpha off -compose copy_opacity -composite \
 -fill 'rgba(255,255,255,0.97)' -draw "path 'M 152,512 C 300,250 724,250 872,512 C 724,774 300,774 152,512 Z'" \
 -fill '#2b6fb0' -draw "circle 512,512 512,682" \
 -fill '#162a55' -draw "circle 512,512 512,600" \
 -fill white -draw "circle 560,462 560,492" \
 -fill 'rgba(255,255,255,0.85)' -draw "path 'M 760,176 L 784,236 L 844,260 L 784,284 L 760,344 L 736,284 L 676,260 L 736,236 Z'" \
 icon.png
