#!/usr/bin/env python3
"""Reads a saved message with Python's email package and prints what the tests check, as JSON.

Usage: check_message.py FILE.eml

Prints headers (decoded: RFC 2047 subjects and names), the MIME structure, the text and HTML bodies, every inline
image with its Content-ID and, for PNG images, the text zbarimg decodes from it; also the longest line and the
parser's defects, so a malformed message shows.
"""

import email
import email.policy
import json
import os
import subprocess
import sys
import tempfile


def structure(part):
    if part.is_multipart():
        return {"type": part.get_content_type(), "parts": [structure(p) for p in part.iter_parts()]}
    return {"type": part.get_content_type()}


def zbar(data):
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        result = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", path],
                                capture_output=True)
        return result.stdout.decode().rstrip("\n") if result.returncode == 0 else None
    finally:
        os.unlink(path)


def main():
    raw = open(sys.argv[1], "rb").read()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(d).__name__ for d in message.defects]
    text = html = None
    images = []
    for part in message.walk():
        defects += [type(d).__name__ for d in part.defects]
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and text is None:
            text = part.get_content()
        elif kind == "text/html" and html is None:
            html = part.get_content()
        elif kind.startswith("image/"):
            data = part.get_content()
            images.append({
                "type": kind,
                "content_id": part["Content-ID"],
                "disposition": part.get_content_disposition(),
                "filename": part.get_filename(),
                "bytes": len(data),
                "png_signature": data[:8] == b"\x89PNG\r\n\x1a\n",
                "qr": zbar(data) if kind == "image/png" else None,
            })
    lines = raw.split(b"\r\n")
    from_header = message["From"]
    to_header = message["To"]
    print(json.dumps({
        "from": str(from_header),
        "from_name": from_header.addresses[0].display_name if from_header else None,
        "from_address": from_header.addresses[0].addr_spec if from_header else None,
        "to": str(to_header),
        "to_names": [a.display_name for a in to_header.addresses] if to_header else [],
        "to_addresses": [a.addr_spec for a in to_header.addresses] if to_header else [],
        "subject": str(message["Subject"]),
        "date": str(message["Date"]),
        "message_id": str(message["Message-ID"]),
        "mime_version": str(message["MIME-Version"]),
        "list_unsubscribe": message["List-Unsubscribe"] and str(message["List-Unsubscribe"]),
        "list_unsubscribe_post": message["List-Unsubscribe-Post"] and str(message["List-Unsubscribe-Post"]),
        "structure": structure(message),
        "text": text,
        "html": html,
        "images": images,
        "longest_line": max(len(line) for line in lines),
        "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
        "defects": defects,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
