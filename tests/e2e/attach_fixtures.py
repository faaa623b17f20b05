"""Files for the attachment tests, generated at test time (nothing binary is
committed): a small PDF written by hand (PDF 1.4, ISO 32000-1 section 7:
objects, a cross-reference table with exact byte offsets, the standard
Helvetica font so no font file is embedded), a DOCX built with zipfile
(ECMA-376: [Content_Types].xml, the package relationships, the main
document part and the core properties), a PNG of rendered text for OCR
(PIL with DejaVu Sans, both Debian packages), and hostile files: a zip
bomb, a PDF claiming a huge page count, a 50,000 x 50,000 PNG, a DOCX
whose document.xml is a ZIP, a legacy .doc (OLE2) header.
"""

import io
import struct
import zipfile
import zlib
from typing import List, Optional


def _pdf_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: List[List[str]], title: str = "", author: str = "",
             claimed_pages: Optional[int] = None) -> bytes:
    """A PDF with one text page per entry of pages (each a list of lines).
    claimed_pages sets the page tree's /Count to a lie (a hostile file)."""
    objs: List[bytes] = []
    n = len(pages)
    # 1 catalog, 2 pages, 3 font, 4 info, then (page, content) pairs.
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(n))
    count = claimed_pages if claimed_pages is not None else n
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                b"/Encoding /WinAnsiEncoding >>")
    objs.append(f"<< /Title ({_pdf_escape(title)}) /Author ({_pdf_escape(author)}) >>"
                .encode("latin-1"))
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    f"/Resources << /Font << /F1 3 0 R >> >> /Contents {6 + 2 * i} 0 R >>"
                    .encode())
        objs.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream +
                    b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n".encode())
    out.write(b"0000000000 65535 f \n")
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 4 0 R >>\n"
              f"startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/'
    'vnd.openxmlformats-package.core-properties+xml"/>'
    '</Types>')

RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    '</Relationships>')


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def docx_document_xml(paragraphs) -> str:
    """paragraphs: a list of str, ("Heading1", text) for a heading, or
    "\\f" for an explicit page break."""
    body = []
    for p in paragraphs:
        if p == "\f":
            body.append('<w:p><w:r><w:br w:type="page"/></w:r></w:p>')
        elif isinstance(p, tuple):
            body.append(f'<w:p><w:pPr><w:pStyle w:val="{p[0]}"/></w:pPr>'
                        f'<w:r><w:t>{_esc(p[1])}</w:t></w:r></w:p>')
        else:
            body.append(f'<w:p><w:r><w:t xml:space="preserve">{_esc(p)}</w:t></w:r></w:p>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:document xmlns:w="{W_NS}"><w:body>' + "".join(body) +
            '</w:body></w:document>')


def make_docx(paragraphs=None, title: str = "", author: str = "",
              document_xml: Optional[bytes] = None, extra=None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml",
                   document_xml if document_xml is not None
                   else docx_document_xml(paragraphs or []))
        z.writestr("docProps/core.xml",
                   '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                   '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
                   'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                   f'<dc:title>{_esc(title)}</dc:title><dc:creator>{_esc(author)}</dc:creator>'
                   '</cp:coreProperties>')
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def make_zip_bomb_docx(expanded: int) -> bytes:
    """A DOCX whose document.xml inflates to `expanded` bytes of one
    repeated XML comment: about 1000 to 1 under DEFLATE."""
    head = f'<?xml version="1.0"?><w:document xmlns:w="{W_NS}"><w:body><!--'.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(head)
            block = b"A" * (1 << 20)
            left = expanded
            while left > 0:
                f.write(block[:min(left, len(block))])
                left -= len(block)
            f.write(b"--></w:body></w:document>")
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def make_huge_png(width: int, height: int) -> bytes:
    """A PNG header claiming width x height (8-bit grey) with one tiny IDAT:
    a few dozen bytes that would decode to width*height bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) +
            _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def make_text_png(lines: List[str]) -> bytes:
    """Black text on white, 36 px DejaVu Sans: what a scanned page looks
    like to OCR (needs Debian's python3-pil and fonts-dejavu-core)."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: imported late: optional
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 36)
    w = 60 + max(int(font.getlength(line)) for line in lines)
    h = 60 + 54 * len(lines)
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        d.text((30, 30 + 54 * i), line, font=font, fill=0)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def have_pil() -> bool:
    try:
        import PIL  # noqa: F401
        from pathlib import Path
        return Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists()
    except ImportError:
        return False


OLE2_DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
