"""Rendering the summary markdown as a standalone, safe HTML page."""

from __future__ import annotations

HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em;
       font-size: 14px; line-height: 1.35; color: #222; }
h3 { font-size: 1.02em; margin: 0.7em 0 0.2em; }
p, ul { margin: 0.3em 0; }
table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.85em; display: block;
        max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.1em 0.4em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
code { background: #f5f5f5; padding: 0 0.2em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; margin: 1em 0 0.3em; }
"""


#: URL schemes a link or image in the generated page may use (plus relative links).
SAFE_URL_SCHEMES = ("http", "https", "mailto")


def markdown_to_html(md: str, title: str = "DLD drivers: summary of results") -> str:
    """A standalone HTML page from the summary markdown (python-markdown with tables).

    Text from config and catalogue (labels, descriptions, notes, unit names) reaches the
    page as text: raw HTML in the markdown is escaped, never passed through, and a link or
    image whose URL has a scheme other than :data:`SAFE_URL_SCHEMES` (e.g. ``javascript:``)
    loses that URL.
    """
    import html
    import urllib.parse

    import markdown
    from markdown.treeprocessors import Treeprocessor

    class _SafeUrls(Treeprocessor):
        def run(self, root):  # noqa: ANN001, ANN202 - markdown API
            for el in root.iter():
                for attr in ("href", "src"):
                    url = el.get(attr)
                    if url is None:
                        continue
                    scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
                    if scheme and scheme not in SAFE_URL_SCHEMES:
                        el.set(attr, "")
            return None

    conv = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    conv.preprocessors.deregister("html_block")  # raw HTML blocks become escaped text
    conv.inlinePatterns.deregister("html")  # ... and inline tags too
    conv.treeprocessors.register(_SafeUrls(conv), "safe_urls", 0)
    body = conv.convert(md)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")
