#!/usr/bin/python3
# Test images that Pillow converts in its own ways, with Pillow's results (what torchvision's
# Image.convert("RGB") / convert("L") gives): a CMYK JPEG (Adobe, inverted), a 16-bit RGB PNG and a
# 16-bit grayscale PNG. Writes NAME plus NAME.rgb (H*W*3 bytes, HWC) and NAME.l (H*W bytes).
# Debian: apt-get install python3-pil python3-numpy; run with Debian's /usr/bin/python3 in this folder.
import struct, zlib
import numpy as np
from PIL import Image

def png16(path, arr, color_type):
    h, w = arr.shape[:2]
    raw = b''.join(b'\x00' + arr[y].astype('>u2').tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    ihdr = struct.pack('>IIBBBBB', w, h, 16, color_type, 0, 0, 0)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))

h, w = 12, 16
yy, xx = np.mgrid[0:h, 0:w]
png16('rgb16.png', np.stack([(xx * 4099 + yy * 300) % 65536, (yy * 5501 + 77) % 65536,
                             ((xx + yy) * 2311 + 65000) % 65536], -1).astype(np.uint16), 2)
g = ((xx * 23 + yy * 7) % 300).astype(np.uint16)  # below and above 255: Pillow clips mode I to 0..255
g[0, 0] = 65535
png16('gray16.png', g, 0)
cmyk = np.stack([(xx * 17) % 256, (yy * 23) % 256, ((xx + yy) * 11) % 256, (xx * yy * 3) % 256], -1).astype(np.uint8)
Image.fromarray(cmyk, 'CMYK').save('cmyk.jpg', quality=90)
for name in ['cmyk.jpg', 'rgb16.png', 'gray16.png']:
    im = Image.open(name)
    open(name + '.rgb', 'wb').write(np.asarray(im.convert('RGB'), dtype=np.uint8).tobytes())
    open(name + '.l', 'wb').write(np.asarray(im.convert('L'), dtype=np.uint8).tobytes())
    print(name, im.mode, im.size)
